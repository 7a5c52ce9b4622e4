"""Derived data (matchers, indexes) cached inside a compiled KB directory, keyed by its inputs."""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar

from clinlink import progress
from clinlink.kb.compiled import atomic_write_bytes, keep_newest
from clinlink.kb.knowledge_base import KnowledgeBase
from clinlink.memory import collector_paused

log = logging.getLogger(__name__)
T = TypeVar("T")
#: Entries kept per kind: several pipelines' settings coexist; older code versions' entries go.
KEEP_PER_KIND = 8


def cache_key(kb: KnowledgeBase, **inputs: Any) -> str:
    """A key that changes when the KB's concepts or any input (settings, file contents) change."""
    concepts = kb.manifest.get("artifacts", {}).get("concepts", {}).get("sha256", "")
    blob = json.dumps({"kb": concepts, **inputs}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def file_digest(path: str | Path | None) -> str:
    """sha256 of a settings file, so edits to it invalidate what was derived from it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else ""


def cached(kb: KnowledgeBase, kind: str, key: str, build: Callable[[], T]) -> T:
    """``build()`` once per key; later loads read ``<kb dir>/<kind>/<key>.pkl``.

    Each load marks its entry as used; after a build, all but the ``KEEP_PER_KIND`` most
    recently used entries of the kind are deleted. KBs that are not compiled directories
    (built in memory) are not cached.
    """
    if kb.path is None:
        return build()
    path = Path(kb.path) / kind / f"{key}.pkl"
    if path.exists():
        try:
            with collector_paused(freeze=False):
                value = pickle.loads(path.read_bytes())
        except Exception as error:  # noqa: BLE001 - a broken cache is rebuilt, never fatal
            log.warning("%s: unreadable cache (%s); rebuilding", path, error)
        else:
            with suppress(OSError):  # a read-only cache stays usable
                path.touch()
            return value
    with progress.step(f"building the {kind} tables in {path.parent} (once)"):
        value = build()
    try:
        atomic_write_bytes(path, pickle.dumps(value, protocol=5))
        keep_newest(path.parent.glob("*.pkl"), KEEP_PER_KIND)
    except OSError as error:
        log.warning("%s: cannot write cache (%s)", path, error)
    return value
