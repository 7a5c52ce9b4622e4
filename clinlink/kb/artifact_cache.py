"""Derived data (matchers, indexes) cached inside a compiled KB directory, keyed by its inputs."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from clinlink.kb.compiled import atomic_write_bytes
from clinlink.kb.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)
T = TypeVar("T")


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

    KBs that are not compiled directories (built in memory) are not cached.
    """
    if kb.path is None:
        return build()
    path = Path(kb.path) / kind / f"{key}.pkl"
    if path.exists():
        gc_enabled = gc.isenabled()
        gc.disable()
        try:
            return pickle.loads(path.read_bytes())
        except Exception as error:  # noqa: BLE001 - a broken cache is rebuilt, never fatal
            log.warning("%s: unreadable cache (%s); rebuilding", path, error)
        finally:
            if gc_enabled:
                gc.enable()
    value = build()
    try:
        atomic_write_bytes(path, pickle.dumps(value, protocol=5))
    except OSError as error:
        log.warning("%s: cannot write cache (%s)", path, error)
    return value
