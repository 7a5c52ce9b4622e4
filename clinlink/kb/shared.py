"""One knowledge base per process, shared by every component that names it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from clinlink.kb.compiled import MANIFEST, load_compiled, load_kb
from clinlink.kb.knowledge_base import KnowledgeBase


@lru_cache(maxsize=4)
def shared_kb(spec: str | None = None) -> KnowledgeBase:
    """The KB named by ``spec``: a compiled KB directory, or an ontology config name/path
    (compiled into the cache dir on first use). ``None`` means the default config."""
    if spec and (Path(spec) / MANIFEST).exists():
        return load_compiled(Path(spec))
    return load_kb(config=spec)
