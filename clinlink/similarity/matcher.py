"""Concept identity, weight and hierarchy distance, as the Tversky index sees them.

A :class:`ConceptMatcher` folds synonyms onto one representative id, gives every
concept a weight and lists its ancestors within ``depth`` steps. Without a
knowledge base every id is its own class with the default weight. Its answers
for a set of concepts can be exported as plain tables so a saved report index
scores without loading the knowledge base.
"""

from __future__ import annotations

import math
import weakref
from collections import deque
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from clinlink.kb.knowledge_base import KnowledgeBase, canonical_xref
from clinlink.similarity.params import TverskyParams
from clinlink.text.normalize import normalize


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        parent = self.parent.setdefault(item, item)
        if parent == item:
            return item
        root = self.find(parent)
        self.parent[item] = root
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # the smaller id represents the class, so representatives are stable
            low, high = sorted((ra, rb))
            self.parent[high] = low


@lru_cache(maxsize=4)
def synonym_classes(kb: KnowledgeBase, name_synonyms: bool) -> dict[str, str]:
    """Concept id -> representative id, for every concept with a synonym in another vocabulary.

    Concepts are synonyms when they share a UMLS CUI, when one cross-references the
    other's id, or (with ``name_synonyms``) when their normalized preferred names are
    equal and they come from different sources.
    """
    classes = _UnionFind()
    by_key: dict[str, str] = {}
    by_name: dict[str, tuple[str, str]] = {}
    for concept in kb:
        if concept.obsolete:
            continue
        for xref in concept.xrefs:
            key = canonical_xref(xref)
            target = kb.resolve(key) if not key.startswith("UMLS:") else None
            if target is not None and target != concept.id:
                classes.union(concept.id, target)
            elif key.startswith("UMLS:"):
                first = by_key.setdefault(key, concept.id)
                if first != concept.id:
                    classes.union(first, concept.id)
        if name_synonyms:
            name = normalize(concept.name)
            seen = by_name.setdefault(name, (concept.id, concept.source))
            if seen[1] != concept.source:
                classes.union(seen[0], concept.id)
    return {item: classes.find(item) for item in classes.parent}


class ConceptMatcher:
    """Synonym folding, weights and ancestors within ``params.depth`` for one KB and settings."""

    def __init__(self, kb: KnowledgeBase | None, params: TverskyParams):
        self.kb = kb
        self.params = params
        self._canonical: dict[str, str] = {}
        self._weight: dict[str, float] = {}
        self._ancestors: dict[str, dict[str, int]] = {}
        self._members: dict[str, set[str]] | None = None

    # -- identity -------------------------------------------------------------
    def canonical(self, concept_id: str) -> str:
        """The representative of the concept's synonym class (the id itself when it has none)."""
        found = self._canonical.get(concept_id)
        if found is not None:
            return found
        rep = concept_id
        if self.kb is not None:
            resolved = self.kb.resolve(concept_id) or concept_id
            rep = self._classes().get(resolved, resolved)
        self._canonical[concept_id] = rep
        return rep

    def _classes(self) -> dict[str, str]:
        assert self.kb is not None
        return synonym_classes(self.kb, self.params.name_synonyms)

    def members(self, rep: str) -> set[str]:
        """Every KB concept folded onto ``rep`` (``{rep}`` when it has no synonyms)."""
        if self.kb is None:
            return {rep}
        if self._members is None:
            members: dict[str, set[str]] = {}
            for item, root in self._classes().items():
                members.setdefault(root, {root}).add(item)
            self._members = members
        return self._members.get(rep, {rep})

    # -- weights --------------------------------------------------------------
    def weight(self, rep: str) -> float:
        """Weight of a representative: the largest over its synonyms."""
        found = self._weight.get(rep)
        if found is None:
            found = max(self._concept_weight(member) for member in sorted(self.members(rep)))
            self._weight[rep] = found
        return found

    def _concept_weight(self, concept_id: str) -> float:
        params = self.params
        concept = self.kb.find(concept_id) if self.kb is not None else None
        if concept is None:
            return params.default_weight
        weight = params.default_weight
        for key in [*concept.semantic_types, concept.group, concept.source]:
            if key in params.weights:
                weight = params.weights[key]
                break
        if params.ic:
            weight *= self.information_content(concept.id)
        return weight

    def information_content(self, concept_id: str) -> float:
        """Intrinsic IC normalized to [0, 1] within the concept's source: leaves 1, the root near 0."""
        assert self.kb is not None
        concept = self.kb.get(concept_id)
        total = _source_sizes(self.kb).get(concept.source, 1)
        if total <= 1:
            return 1.0
        below = len(self.kb.descendants(concept.id))
        return math.log(total / (below + 1)) / math.log(total)

    # -- hierarchy ------------------------------------------------------------
    def ancestors(self, rep: str) -> dict[str, int]:
        """Representatives above ``rep`` within ``depth`` steps -> fewest steps (``rep`` excluded)."""
        found = self._ancestors.get(rep)
        if found is not None:
            return found
        found = {}
        depth = self.params.depth
        if self.kb is not None and depth > 0:
            graph = self.kb.graph
            queue = deque((member, 0) for member in sorted(self.members(rep)) if member in graph)
            seen = {member for member, _ in queue}
            while queue:
                node, steps = queue.popleft()
                if steps == depth:
                    continue
                for parent in graph.successors(node):
                    if parent in seen:
                        continue
                    seen.add(parent)
                    parent_rep = self.canonical(parent)
                    if parent_rep != rep and parent_rep not in found:
                        found[parent_rep] = steps + 1
                    queue.append((parent, steps + 1))
        self._ancestors[rep] = found
        return found

    def distance(self, a: str, b: str) -> int | None:
        """Hierarchy steps between two representatives on one line of descent (0 when equal), else None."""
        if a == b:
            return 0
        up = self.ancestors(a).get(b)
        if up is not None:
            return up
        return self.ancestors(b).get(a)

    # -- saved form -----------------------------------------------------------
    def export(self, concept_ids: Iterable[str]) -> dict[str, Any]:
        """Tables that answer for ``concept_ids`` and everything they reach, without the KB."""
        canonical: dict[str, str] = {}
        reps: set[str] = set()
        for concept_id in concept_ids:
            rep = self.canonical(concept_id)
            canonical[concept_id] = rep
            reps.add(rep)
        ancestors = {rep: self.ancestors(rep) for rep in sorted(reps)}
        for found in list(ancestors.values()):
            reps.update(found)
        return {
            "canonical": canonical,
            "weight": {rep: self.weight(rep) for rep in sorted(reps)},
            "ancestors": ancestors,
        }

    @classmethod
    def from_tables(cls, tables: dict[str, Any], params: TverskyParams, kb: KnowledgeBase | None = None) -> ConceptMatcher:
        """A matcher answering from exported tables; ids they lack fall back to ``kb`` (or to no KB)."""
        matcher = cls(kb, params)
        matcher._canonical.update(tables["canonical"])
        matcher._weight.update({k: float(v) for k, v in tables["weight"].items()})
        matcher._ancestors.update({k: {a: int(d) for a, d in v.items()} for k, v in tables["ancestors"].items()})
        return matcher


@lru_cache(maxsize=4)
def _source_sizes(kb: KnowledgeBase) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for concept in kb:
        if not concept.obsolete:
            sizes[concept.source] = sizes.get(concept.source, 0) + 1
    return sizes


_MATCHERS: weakref.WeakKeyDictionary[KnowledgeBase, dict[tuple, ConceptMatcher]] = weakref.WeakKeyDictionary()
_PLAIN_MATCHERS: dict[tuple, ConceptMatcher] = {}


def matcher_for(kb: KnowledgeBase | None, params: TverskyParams) -> ConceptMatcher:
    """One shared matcher per KB and identity settings (the formula settings do not matter)."""
    shared = _PLAIN_MATCHERS if kb is None else _MATCHERS.setdefault(kb, {})
    key = params.matcher_key()
    if key not in shared:
        shared[key] = ConceptMatcher(kb, params)
    return shared[key]
