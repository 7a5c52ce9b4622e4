"""Exact and fuzzy name search over a knowledge base (rapidfuzz)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from rapidfuzz import fuzz, process

from clinlink.kb.knowledge_base import KnowledgeBase
from clinlink.text.normalize import normalize


@dataclass(frozen=True, slots=True)
class NameMatch:
    """A concept found by name, with the name that matched and a 0-100 score."""

    concept_id: str
    name: str
    matched: str
    source: str
    score: float


class NameSearch:
    """Search concept names: exact normalized matches first, then fuzzy (WRatio)."""

    def __init__(self, kb: KnowledgeBase, sources: list[str] | None = None):
        self.kb = kb
        self.sources = sources

    @cached_property
    def _names(self) -> tuple[list[str], list[str], list[str]]:
        names, normalized, ids = [], [], []
        for name, concept_id in self.kb.iter_names(sources=self.sources):
            names.append(name)
            normalized.append(normalize(name))
            ids.append(concept_id)
        return names, normalized, ids

    def search(self, text: str, k: int = 10) -> list[NameMatch]:
        names, normalized, ids = self._names
        query = normalize(text)
        if not query:
            return []
        best: dict[str, NameMatch] = {}
        hits = process.extract(query, normalized, scorer=fuzz.WRatio, limit=max(50, k * 10))
        for _, score, position in hits:
            if len(normalized[position]) < len(query) / 2:
                continue  # a short name inside a long query is not a match ("RA" in "pleural")
            if normalized[position] == query:
                score = 100.0 + (1.0 if names[position] == self.kb.get(ids[position]).name else 0.0)
            concept = self.kb.get(ids[position])
            previous = best.get(concept.id)
            if previous is None or score > previous.score:
                best[concept.id] = NameMatch(concept.id, concept.name, names[position], concept.source, float(score))
        ranked = sorted(best.values(), key=lambda m: (-m.score, len(m.matched), m.concept_id))
        return [NameMatch(m.concept_id, m.name, m.matched, m.source, min(m.score, 100.0)) for m in ranked[:k]]
