"""One concept store for every source vocabulary."""

from __future__ import annotations

import re

from collections import defaultdict
from collections.abc import Iterable, Iterator, MutableMapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from clinlink.errors import KnowledgeBaseError
from clinlink.kb.concept import Concept
from clinlink.text.normalize import normalize

if TYPE_CHECKING:
    import networkx as nx

#: Cross-reference prefixes that mean the same vocabulary, folded to one name.
XREF_ALIASES = {
    "UMLS": "UMLS",
    "UMLS_CUI": "UMLS",
    "SNOMEDCT_US": "SNOMEDCT",
    "SNOMEDCT": "SNOMEDCT",
    "SCTID": "SNOMEDCT",
    "ICD10CM": "ICD10CM",
    "ICD-10-CM": "ICD10CM",
    "ICD-10": "ICD10",
    "ICD10": "ICD10",
    "HP": "HP",
    "HPO": "HP",
    "MSH": "MESH",
    "MESH": "MESH",
}


# Vocabulary prefix -> what its bare codes look like (for :meth:`KnowledgeBase.find_code`).
BARE_CODES = (
    ("UMLS", re.compile(r"C\d{7}")),
    ("ICD10CM", re.compile(r"[A-Z]\d[0-9A-Z](\.[0-9A-Z]{1,4})?")),
    ("SNOMEDCT", re.compile(r"\d{6,18}")),
)


def canonical_xref(xref: str) -> str:
    """``SNOMEDCT_US:123`` -> ``SNOMEDCT:123``; unknown prefixes are kept."""
    prefix, _, code = xref.partition(":")
    if not code:
        return xref
    return f"{XREF_ALIASES.get(prefix.upper(), prefix)}:{code}"


class KnowledgeBase:
    """Concepts of several vocabularies with names, hierarchy and cross-references.

    Hierarchy edges run child -> parent in :attr:`graph`; ids of retired or
    alternative concepts resolve to their replacement through :meth:`get`.
    """

    def __init__(self, concepts: Iterable[Concept], sources: dict[str, dict] | None = None):
        self._concepts: MutableMapping[str, Concept] = {}
        self._redirects: dict[str, str] = {}
        for concept in concepts:
            self._put(concept)
        self.sources: dict[str, dict] = dict(sources or {})
        self.path: Path | None = None  # set when loaded from a compiled directory
        self.manifest: dict = {}

    @classmethod
    def from_store(
        cls, concepts: MutableMapping[str, Concept], redirects: dict[str, str], xref_index: dict[str, list[str]],
        sources: dict[str, dict] | None = None,
    ) -> KnowledgeBase:
        """A KB over concepts read on demand (:class:`clinlink.kb.store.ConceptStore`), with the
        lookups of :meth:`lookups` saved beside them, so that none is rebuilt from every concept."""
        kb = cls((), sources)
        kb._concepts = concepts
        kb._redirects = dict(redirects)
        kb.__dict__["_xref_index"] = xref_index
        return kb

    def lookups(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        """Alt-id redirects and the cross-reference index, saved with a compiled KB."""
        return self._redirects, self._xref_index

    # -- construction -------------------------------------------------------
    def add(self, concept: Concept) -> None:
        """Add a concept; a later concept with the same id replaces the earlier."""
        self._put(concept)
        self._invalidate()

    def _put(self, concept: Concept) -> None:
        self._concepts[concept.id] = concept
        for alt in concept.alt_ids:
            self._redirects.setdefault(alt, concept.id)

    def _invalidate(self) -> None:
        for name in ("graph", "_name_index", "_xref_index"):
            self.__dict__.pop(name, None)

    # -- lookup -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._concepts)

    def __contains__(self, concept_id: object) -> bool:
        return isinstance(concept_id, str) and self.resolve(concept_id) is not None

    def __iter__(self) -> Iterator[Concept]:
        return iter(self._concepts.values())

    def resolve(self, concept_id: str) -> str | None:
        """The current id for ``concept_id`` (following alt ids and replaced_by)."""
        seen: set[str] = set()
        current: str | None = concept_id
        while current is not None and current not in seen:
            seen.add(current)
            concept = self._concepts.get(current)
            if concept is None:
                current = self._redirects.get(current)
                continue
            if concept.obsolete and concept.replaced_by:
                current = concept.replaced_by
                continue
            return current
        return None

    def get(self, concept_id: str) -> Concept:
        """The concept for an id, alt id or obsolete id; ``KeyError`` if unknown."""
        resolved = self.resolve(concept_id)
        if resolved is None:
            raise KeyError(f"unknown concept id: {concept_id!r}")
        return self._concepts[resolved]

    def find(self, concept_id: str) -> Concept | None:
        """Like :meth:`get` but ``None`` when unknown."""
        resolved = self.resolve(concept_id)
        return None if resolved is None else self._concepts[resolved]

    def names(self, concept_id: str) -> list[str]:
        """All names of a concept, preferred first."""
        return self.get(concept_id).names

    @cached_property
    def _name_index(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = defaultdict(list)
        for name, concept_id in self.iter_names(indexed_only=False):
            ids = index[normalize(name)]
            if concept_id not in ids:
                ids.append(concept_id)
        return dict(index)

    def lookup(self, name: str) -> list[str]:
        """Ids of the concepts that have ``name`` (after normalization)."""
        return list(self._name_index.get(normalize(name), ()))

    def iter_names(
        self,
        sources: Iterable[str] | None = None,
        indexed_only: bool = True,
        include_obsolete: bool = False,
    ) -> Iterator[tuple[str, str]]:
        """Every (name, concept id) pair, for building matchers and indexes."""
        wanted = {s.upper() for s in sources} if sources else None
        for concept in self._concepts.values():
            if wanted is not None and concept.source.upper() not in wanted:
                continue
            if concept.obsolete and not include_obsolete:
                continue
            if indexed_only and not concept.indexed:
                continue
            for name in concept.names:
                yield name, concept.id

    # -- hierarchy ----------------------------------------------------------
    @cached_property
    def graph(self) -> nx.DiGraph:
        """Hierarchy as a DiGraph with edges child -> parent (networkx is imported on first use, not at load)."""
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from(self._concepts)
        for concept in self._concepts.values():
            for parent in concept.parents:
                target = self.resolve(parent)
                if target is not None and target != concept.id:
                    graph.add_edge(concept.id, target)
        return graph

    def _node(self, concept_id: str) -> str:
        resolved = self.resolve(concept_id)
        if resolved is None:
            raise KeyError(f"unknown concept id: {concept_id!r}")
        return resolved

    def parents(self, concept_id: str) -> list[str]:
        return sorted(self.graph.successors(self._node(concept_id)))

    def children(self, concept_id: str) -> list[str]:
        return sorted(self.graph.predecessors(self._node(concept_id)))

    def ancestors(self, concept_id: str) -> set[str]:
        """Every concept above ``concept_id`` (not itself)."""
        from networkx import descendants

        return descendants(self.graph, self._node(concept_id))

    def descendants(self, concept_id: str) -> set[str]:
        """Every concept below ``concept_id`` (not itself)."""
        from networkx import ancestors

        return ancestors(self.graph, self._node(concept_id))

    def is_a(self, concept_id: str, ancestor_id: str) -> bool:
        """True when ``concept_id`` is ``ancestor_id`` or lies below it."""
        node, top = self._node(concept_id), self._node(ancestor_id)
        return node == top or top in self.ancestors(node)

    def depth(self, concept_id: str) -> int:
        """Length of the longest path from the concept up to a root (roots are 0)."""
        node = self._node(concept_id)
        memo: dict[str, int] = {}
        stack = [node]
        while stack:
            current = stack[-1]
            parents = [p for p in self.graph.successors(current) if p not in memo]
            if parents:
                stack.extend(parents)
                continue
            stack.pop()
            memo[current] = 1 + max((memo[p] for p in self.graph.successors(current)), default=-1)
        return memo[node]

    def parent_chain(self, concept_id: str) -> list[str]:
        """One path from the concept up to its root, following the first parent."""
        chain = [self._node(concept_id)]
        while True:
            parents = self.parents(chain[-1])
            if not parents or parents[0] in chain:
                return chain
            chain.append(parents[0])

    # -- cross-references ---------------------------------------------------
    @cached_property
    def _xref_index(self) -> dict[str, list[str]]:
        """Canonical xref (and concept id) -> ids of concepts that carry it."""
        index: dict[str, list[str]] = defaultdict(list)
        for concept in self._concepts.values():
            for xref in concept.xrefs:
                index[canonical_xref(xref)].append(concept.id)
        return dict(index)

    def xrefs(self, concept_id: str) -> list[str]:
        """Cross-references of a concept, also those reached through a shared UMLS CUI
        or through another KB concept that points at this one."""
        concept = self.get(concept_id)
        found: dict[str, None] = {canonical_xref(x): None for x in concept.xrefs}
        linked = set(self._xref_index.get(canonical_xref(concept.id), ()))
        for xref in list(found):
            if xref.startswith("UMLS:"):
                linked.update(self._xref_index.get(xref, ()))
            if xref in self._concepts or self.resolve(xref):
                linked.add(self.resolve(xref) or xref)
        linked.discard(concept.id)
        for other_id in sorted(linked):
            other = self._concepts.get(other_id)
            if other is None:
                continue
            found.setdefault(canonical_xref(other.id), None)
            for xref in other.xrefs:
                found.setdefault(canonical_xref(xref), None)
        found.pop(canonical_xref(concept.id), None)
        return list(found)

    def codes(self, concept_id: str) -> dict[str, list[str]]:
        """The concept's codes per vocabulary, e.g. ``{"UMLS": ["C0032227"], "HPO": ["HP:0002202"]}``."""
        concept = self.get(concept_id)
        result: dict[str, list[str]] = defaultdict(list)
        for xref in [canonical_xref(concept.id), *self.xrefs(concept.id)]:
            prefix, _, code = xref.partition(":")
            if prefix == "HP":
                prefix, code = "HPO", xref
            if code and code not in result[prefix]:
                result[prefix].append(code)
        return dict(result)

    def concepts_with_xref(self, xref: str) -> list[str]:
        """Ids of KB concepts that carry a cross-reference (``UMLS:C0032227``)."""
        return list(self._xref_index.get(canonical_xref(xref), ()))

    def find_code(self, code: str) -> list[str]:
        """Ids of the concepts a code names: a concept id or alt id (``HP:0002202``), a bare code of a vocabulary
        (``I50.23`` -> ``ICD10CM:I50.23``, ``C0032227`` -> ``UMLS:C0032227``, ``60046008`` -> ``SNOMEDCT:60046008``),
        else the concepts that carry it as a cross-reference (a CUI in an HPO-only KB)."""
        code = code.strip()
        resolved = self.resolve(code)
        if resolved is not None:
            return [resolved]
        candidates = [canonical_xref(code)] if ":" in code else [f"{prefix}:{code.upper()}" for prefix, pattern in BARE_CODES if pattern.fullmatch(code.upper())]
        for candidate in candidates:
            resolved = self.resolve(candidate)
            if resolved is not None:
                return [resolved]
        return list(dict.fromkeys(found for candidate in candidates for found in self.concepts_with_xref(candidate)))

    # -- filters ------------------------------------------------------------
    def filter(
        self,
        semantic_types: Iterable[str] | None = None,
        groups: Iterable[str] | None = None,
        sources: Iterable[str] | None = None,
    ) -> Iterator[Concept]:
        """Concepts with any of the semantic types, in any group, of any source."""
        types = set(semantic_types or ())
        wanted_groups = set(groups or ())
        wanted_sources = {s.upper() for s in sources or ()}
        for concept in self._concepts.values():
            if types and not types.intersection(concept.semantic_types):
                continue
            if wanted_groups and concept.group not in wanted_groups:
                continue
            if wanted_sources and concept.source.upper() not in wanted_sources:
                continue
            yield concept

    def require(self, concept_id: str) -> str:
        """Resolve an id or raise a :class:`KnowledgeBaseError` naming it."""
        resolved = self.resolve(concept_id)
        if resolved is None:
            raise KnowledgeBaseError(f"concept {concept_id!r} is not in the knowledge base")
        return resolved
