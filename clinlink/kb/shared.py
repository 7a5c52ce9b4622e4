"""One knowledge base per process, shared by every component that names it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from clinlink.kb.compiled import MANIFEST, load_compiled, load_kb
from clinlink.kb.config import find_config
from clinlink.kb.knowledge_base import KnowledgeBase


def shared_kb(spec: str | Path | None = None) -> KnowledgeBase:
    """The KB named by ``spec``: a compiled KB directory, or an ontology config name/path
    (compiled into the cache dir on first use). ``None`` means the default config.
    Specs that name the same directory or config (``None``, ``"default"``) share one KB."""
    if spec and (Path(spec).expanduser() / MANIFEST).is_file():
        return _loaded(True, Path(spec).expanduser().resolve())
    return _loaded(False, find_config(spec).resolve())


@lru_cache(maxsize=4)
def _loaded(compiled: bool, path: Path) -> KnowledgeBase:
    return load_compiled(path) if compiled else load_kb(config=path)
