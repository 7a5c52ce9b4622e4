"""Linking mentions to KB concepts: dense + sparse candidates, reranking, the spaCy component.

``Linker`` and ``TextEncoder`` are imported on first use (they pull in torch and faiss),
so importing the spaCy component stays light.
"""

from typing import TYPE_CHECKING, Any

from clinlink.linking.candidates import Candidate, Reranker

if TYPE_CHECKING:
    from clinlink.linking.encoder import TextEncoder
    from clinlink.linking.linker import Linker


def __getattr__(name: str) -> Any:
    if name == "Linker":
        from clinlink.linking.linker import Linker

        return Linker
    if name == "TextEncoder":
        from clinlink.linking.encoder import TextEncoder

        return TextEncoder
    raise AttributeError(f"module 'clinlink.linking' has no attribute {name!r}")


__all__ = ["Candidate", "Linker", "Reranker", "TextEncoder"]
