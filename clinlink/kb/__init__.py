"""Knowledge base: concepts of every source vocabulary, compiled once and loaded fast."""

from clinlink.kb.compiled import build_kb, default_kb_dir, load_compiled, load_kb
from clinlink.kb.concept import Concept, Synonym
from clinlink.kb.knowledge_base import KnowledgeBase

__all__ = ["Concept", "Synonym", "KnowledgeBase", "build_kb", "load_kb", "load_compiled", "default_kb_dir"]
