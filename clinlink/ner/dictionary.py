"""Dictionary of KB names for mention detection, keyed by normalized token sequences."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from clinlink.errors import ConfigError
from clinlink.kb.knowledge_base import KnowledgeBase
from clinlink.ner.roots import root_key
from clinlink.ner.variants import VariantRules, load_variant_rules
from clinlink.text.normalize import order_free_key, order_free_key_of_stems, stem, tokens

FUNCTION_WORDS = frozenset("a an and the of in on with without to for or no not is was are be by at as from".split())
# Function words that may sit inside an order-free window ("stenosis of the pulmonary artery").
ORDER_FREE_LINKS = frozenset({"of", "the"})
QUANTIFIERS = ("multiple", "numerous")
DEFAULT_STOP_NAMES = Path(__file__).with_name("stop_names.yaml")
NOT_A_MENTION = ""  # the concept of a stop phrase: its words are no mention
_KIND_RANK = {"PREFERRED": 0, "EXACT": 1, "INCLUSION": 2, "ABBREVIATION": 3, "RELATED": 4, "NARROW": 5, "BROAD": 6}


@dataclass(frozen=True)
class ConceptFilter:
    """Which concepts the dictionary keeps: sources, semantic groups and types, subtrees."""

    sources: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    semantic_types: tuple[str, ...] = ()
    within: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def allowed_ids(self, kb: KnowledgeBase) -> set[str]:
        concepts = kb.filter(self.semantic_types or None, self.groups or None, self.sources or None)
        allowed = {c.id for c in concepts if c.indexed and not c.obsolete}
        if self.within:
            subtree: set[str] = set()
            for root in self.within:
                subtree |= kb.descendants(root) | {kb.require(root)}
            allowed &= subtree
        for excluded in self.exclude:
            allowed -= kb.descendants(excluded) | {kb.require(excluded)}
        return allowed

    def allows(self, kb: KnowledgeBase, concept_id: str) -> bool:
        """Whether one concept passes the filter (what :meth:`allowed_ids` holds, without listing them all)."""
        concept = kb.find(concept_id)
        if concept is None or not concept.indexed or concept.obsolete:
            return False
        if self.sources and concept.source.upper() not in {s.upper() for s in self.sources}:
            return False
        if (self.groups and concept.group not in self.groups) or (
            self.semantic_types and not set(self.semantic_types).intersection(concept.semantic_types)
        ):
            return False
        above = kb.ancestors(concept.id) | {concept.id}
        if self.within and not any(kb.require(root) in above for root in self.within):
            return False
        return not any(kb.require(excluded) in above for excluded in self.exclude)


@dataclass
class MentionDictionary:
    """Normalized name keys -> concept ids ranked by preference.

    ``exact`` keys are tuples of stemmed tokens; ``order_free`` keys ignore word
    order and function words and are looked up only for windows of two or more
    words without function words ("effusion, pleural"), so "failure to thrive in
    infancy" is not found in "infancy with failure to thrive". ``derived`` keys (see
    :mod:`clinlink.ner.roots`) name one concept each: a key shared by two concepts is dropped.
    """

    exact: dict[tuple[str, ...], list[str]] = field(default_factory=dict)
    order_free: dict[str, list[str]] = field(default_factory=dict)
    max_words: int = 1
    vocabulary: frozenset[str] = frozenset()  # every word of every key: a window with another word cannot match
    reach: dict[str, int] = field(default_factory=dict)  # word -> the longest window starting with it that can match
    derived: dict[str, str] = field(default_factory=dict)
    derived_roots: frozenset[str] = frozenset()  # every root of every derived key
    qualified: dict[tuple[str, str], str] = field(default_factory=dict)  # (qualifier, concept) -> child
    fallback: frozenset[tuple[str, ...]] = frozenset()  # keys only a coding lexicon's phrases give: matched as written

    @classmethod
    def from_kb(
        cls,
        kb: KnowledgeBase,
        concept_filter: ConceptFilter = ConceptFilter(),
        prefer_sources: Iterable[str] = (),
        synonym_kinds: Iterable[str] = ("PREFERRED", "EXACT", "INCLUSION", "RELATED"),
        stop_names: Iterable[str] | None = None,
        min_chars: int = 3,
        extra_names: dict[str, list[str]] | None = None,
        variant_rules: VariantRules | None = None,
        fallback_names: dict[str, list[str]] | None = None,
        stop_phrases: Iterable[str] = (),
    ) -> MentionDictionary:
        """``extra_names`` (concept id -> phrases) adds site or domain wording, ranked first; ``fallback_names``
        (a coding lexicon's phrases) are matched as written, ranked after every other name of the same words;
        ``stop_phrases`` are matched before any name and read as no mention, so no name inside them is read
        ("body mass index" holds no mass)."""
        allowed = concept_filter.allowed_ids(kb)
        source_rank = {source.upper(): rank for rank, source in enumerate(prefer_sources)}
        kinds = set(synonym_kinds)
        rules = variant_rules or load_variant_rules()
        stops = {tuple(stem(t) for t in tokens(name)) for name in (stop_names if stop_names is not None else load_stop_names())}
        ranked_exact: dict[tuple[str, ...], dict[str, tuple]] = defaultdict(dict)
        ranked_free: dict[str, dict[str, tuple]] = defaultdict(dict)
        derived: dict[str, set[str]] = defaultdict(set)
        name_keys: dict[str, list[tuple[str, ...]]] = {}
        for concept_id in allowed:
            concept = kb.get(concept_id)
            names = [(concept.name, "PREFERRED")] + [(s.name, s.kind) for s in concept.synonyms]
            name_keys[concept_id] = []
            for name, kind in names:
                if kind not in kinds:
                    continue
                name_key = tuple(stem(t) for t in tokens(name))
                name_keys[concept_id].append(name_key)
                roots = root_key(name_key)
                if roots is not None:
                    derived[roots].add(concept_id)
                for variant in rules.variants(name):
                    key = name_key if variant == name else tuple(stem(t) for t in tokens(variant))
                    if not key or len(" ".join(key)) < min_chars or key in stops or key[0].isdigit():
                        continue
                    rank = (source_rank.get(concept.source.upper(), len(source_rank)), _KIND_RANK.get(kind, 9), variant != name, len(concept.parents) == 0)
                    _keep_best(ranked_exact[key], concept_id, rank)
                    if len(key) > 1:
                        _keep_best(ranked_free[order_free_key(variant)], concept_id, rank)
        for concept_id, phrases in (extra_names or {}).items():
            resolved = kb.require(concept_id)
            for phrase in phrases:
                key = tuple(stem(t) for t in tokens(phrase))
                if key:
                    _keep_best(ranked_exact[key], resolved, (-1, 0, False, False))
                    if len(key) > 1:
                        _keep_best(ranked_free[order_free_key(phrase)], resolved, (-1, 0, False, False))
        for phrase in stop_phrases:
            key = tuple(stem(t) for t in tokens(phrase))
            if key:
                _keep_best(ranked_exact[key], NOT_A_MENTION, (-2, 0, False, False))
        fallback_rank = (len(source_rank) + 1, 9, True, False)  # after every other name of the same words
        for concept_id, phrases in (fallback_names or {}).items():
            resolved = kb.find(concept_id)
            for phrase in phrases if resolved is not None else ():
                key = tuple(stem(t) for t in tokens(phrase))
                if key and key not in stops:
                    _keep_best(ranked_exact[key], resolved.id, fallback_rank)
        fallback = frozenset(key for key, ids in ranked_exact.items() if set(ids.values()) == {fallback_rank})
        exact = {key: _ordered(ids) for key, ids in ranked_exact.items()}
        free = {key: _ordered(ids) for key, ids in ranked_free.items() if key}
        # an order-free window may hold an extra "of the" ("compression of the spinal cord")
        vocabulary = frozenset(word for key in exact for word in key)
        max_words = max((len(k) for k in exact), default=1) + len(ORDER_FREE_LINKS)
        unambiguous = {key: next(iter(ids)) for key, ids in derived.items() if len(ids) == 1}
        derived_roots = frozenset(word for key in unambiguous for word in key.split(" "))
        qualified = _qualified_children(kb, name_keys)
        return cls(exact, free, max_words, vocabulary, _reach(exact, free), unambiguous, derived_roots, qualified, fallback)

    def lookup(self, words: tuple[str, ...], plural: bool = False) -> tuple[list[str], str] | None:
        """Concept ids for a stemmed word window and how it matched ("exact", "order").

        A plural mention ("lipomas", "mucosal neuromas") prefers a "Multiple ..."/"Numerous ..."
        concept when one exists, and "multiple X" / "numerous X" stand for each other.
        Word order is free for windows without function words ("effusion, pleural") and for
        "X of (the) Y" ("compression of the spinal cord" ~ "spinal cord compression"). A stop phrase
        (:data:`NOT_A_MENTION`) is one in the plural too ("pupils" are no "Multiple pupils").
        """
        ids = self.exact.get(words)
        if plural and not (ids and ids[0] == NOT_A_MENTION):
            for quantifier in QUANTIFIERS:
                several = self.exact.get((quantifier, *words))
                if several:
                    return several, "exact"
        if ids:
            return ids, "exact"
        if len(words) > 1 and words[0] in QUANTIFIERS:
            for quantifier in QUANTIFIERS:
                ids = self.exact.get((quantifier, *words[1:]))
                if ids:
                    return ids, "exact"
        if len(words) > 1 and _order_free_window(words):
            ids = self.order_free.get(order_free_key_of_stems(words))
            if ids:
                return ids, "order"
        return None


def _qualified_children(kb: KnowledgeBase, name_keys: dict[str, list[tuple[str, ...]]]) -> dict[tuple[str, str], str]:
    """(qualifier, concept) -> the child named by the concept's name with one more word, before it or after a
    comma ("Severe global developmental delay", "Global developmental delay, severe"); a qualifier naming
    two children of a concept is dropped. ``name_keys``: the stemmed names of each allowed concept."""

    @cache
    def preferred_key(concept_id: str) -> tuple[str, ...]:  # a parent's name, read once for all its children
        return tuple(stem(t) for t in tokens(kb.get(concept_id).name))

    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for child, child_keys in name_keys.items():
        for parent in kb.parents(child):
            if parent not in name_keys:
                continue
            parent_name = preferred_key(parent)
            for key in child_keys:
                if len(key) != len(parent_name) + 1:
                    continue
                if key[1:] == parent_name and not key[0].isdigit():
                    found[(key[0], parent)].add(child)
                elif key[:-1] == parent_name and not key[-1].isdigit():
                    found[(key[-1], parent)].add(child)
    return {pair: next(iter(children)) for pair, children in found.items() if len(children) == 1}


def _reach(exact: dict[tuple[str, ...], list[str]], order_free: dict[str, list[str]]) -> dict[str, int]:
    """For each word, the longest window starting with it that :meth:`MentionDictionary.lookup` can match:
    an exact key it starts (counting the quantifier forms: "multiple lipomas" is found from "lipomas"),
    or an order-free key holding it, plus an inner "of the"."""
    reach: dict[str, int] = {}
    for key in exact:
        reach[key[0]] = max(reach.get(key[0], 0), len(key))
        if len(key) > 1 and key[0] in QUANTIFIERS:
            reach[key[1]] = max(reach.get(key[1], 0), len(key) - 1)
    quantified = max((reach.get(q, 0) for q in QUANTIFIERS), default=0)
    for quantifier in QUANTIFIERS:
        reach[quantifier] = quantified
    for key in order_free:
        words = key.split(" ")
        for word in words:
            reach[word] = max(reach.get(word, 0), len(words) + len(ORDER_FREE_LINKS))
    return reach


def _order_free_window(words: tuple[str, ...]) -> bool:
    """No function words, or only "of"/"the" inside ("X of the Y"), with two content words or more."""
    if words[0] in FUNCTION_WORDS or words[-1] in FUNCTION_WORDS:
        return False
    inner = [word for word in words if word in FUNCTION_WORDS]
    return not inner or (ORDER_FREE_LINKS.issuperset(inner) and len(words) - len(inner) >= 2)


def _keep_best(ranks: dict[str, tuple], concept_id: str, rank: tuple) -> None:
    if concept_id not in ranks or rank < ranks[concept_id]:
        ranks[concept_id] = rank


def _ordered(ranks: dict[str, tuple]) -> list[str]:
    return [cid for cid, _ in sorted(ranks.items(), key=lambda item: (item[1], item[0]))]


def load_extra_names(path: str | Path | None) -> dict[str, list[str]]:
    """Concept id -> extra phrases, from a YAML mapping (``HP:0002202: [effusion, fluid in the chest]``)."""
    if not path:
        return {}
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of concept id -> list of phrases")
    return {str(cid): [str(p) for p in (phrases or [])] for cid, phrases in data.items()}


def load_stop_names(path: str | Path | None = None, section: str = "stop_names") -> list[str]:
    """Names never matched on their own (too generic, or common words); ``section="stop_phrases"``: phrases in
    which no name is read."""
    data = yaml.safe_load(Path(path or DEFAULT_STOP_NAMES).read_text(encoding="utf-8"))
    return [str(name) for name in data.get(section, None) or []]
