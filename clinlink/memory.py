"""Garbage-collector control around loading large, long-lived structures.

Unpickling a knowledge base creates millions of objects; CPython's cyclic collector
would rescan them again and again while they load (doubling load time) and on every
later full collection (slowing annotation). Loading with the collector paused and
then freezing what was loaded (``gc.freeze``) avoids both; nothing loaded this way is
garbage, so nothing is kept alive that would otherwise be freed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused(freeze: bool = True) -> Iterator[None]:
    """Pause cyclic garbage collection inside the block; afterwards (``freeze``) move every object
    alive to the permanent generation, which later collections skip."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()
