"""clinlink: clinical free text to ontology concepts, fully offline.

``clinlink.load()`` gives a spaCy pipeline (mentions, assertions, linking);
``clinlink.kb.load_kb()`` the knowledge base; ``clinlink.Linker`` links gold mentions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from clinlink.linking import Linker
    from clinlink.pipeline import load


def __getattr__(name: str) -> Any:
    """Import heavy parts (spaCy, torch) only when first used."""
    if name == "load":
        from clinlink.pipeline import load

        return load
    if name == "Linker":
        from clinlink.linking import Linker

        return Linker
    raise AttributeError(f"module 'clinlink' has no attribute {name!r}")


__all__ = ["load", "Linker", "__version__"]
