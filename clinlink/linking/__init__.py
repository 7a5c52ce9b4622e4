"""Linking: mention strings to KB concepts (dense + sparse retrieval, merge, optional reranking)."""

from clinlink.linking.candidates import Candidate, Reranker
from clinlink.linking.encoder import TextEncoder
from clinlink.linking.linker import Linker

__all__ = ["Candidate", "Linker", "Reranker", "TextEncoder"]
