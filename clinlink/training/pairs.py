"""Training pairs from knowledge-base names (SapBERT): every two names of one concept are a positive pair.

Held-out concepts (:func:`clinlink.training.splits.is_held_out`) never
contribute a name; a concept gives at most ``max_per_concept`` pairs, drawn
with a fixed seed when it has more.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from clinlink.kb import Concept, KnowledgeBase
from clinlink.training.paraphrase import paraphrases
from clinlink.training.splits import is_held_out

#: SapBERT caps each concept's pairs at 50.
MAX_PAIRS_PER_CONCEPT = 50


@dataclass(frozen=True, slots=True)
class NamePair:
    """Two names of one concept."""

    first: str
    second: str
    concept_id: str


def training_concepts(kb: KnowledgeBase, sources: Sequence[str]) -> Iterable[Concept]:
    """Current, indexed concepts of ``sources`` outside the held-out split."""
    wanted = {source.upper() for source in sources}
    for concept in kb:
        if concept.source.upper() in wanted and not concept.obsolete and concept.indexed and not is_held_out(concept.id):
            yield concept


def concept_pairs(concept: Concept, max_per_concept: int, rng: random.Random, paraphrase: bool = False) -> list[NamePair]:
    """Unordered pairs of the concept's distinct names (case-insensitively), at most ``max_per_concept``;
    with ``paraphrase``, the names' paraphrases (:mod:`clinlink.training.paraphrase`) count as names."""
    distinct: dict[str, str] = {}
    for name in concept.names:
        distinct.setdefault(name.lower(), name)
    for name in list(distinct.values()) if paraphrase else ():
        for other in paraphrases(name):
            distinct.setdefault(other.lower(), other)
    names = list(distinct.values())
    combos = list(itertools.combinations(names, 2))
    if len(combos) > max_per_concept:
        combos = rng.sample(combos, max_per_concept)
    return [NamePair(first, second, concept.id) for first, second in combos]


def synonym_pairs(
    kb: KnowledgeBase,
    sources: Sequence[str] = ("HP",),
    max_per_concept: int = MAX_PAIRS_PER_CONCEPT,
    seed: int = 42,
    paraphrase: bool = False,
) -> list[NamePair]:
    """All training pairs of ``sources``, shuffled with ``seed``."""
    rng = random.Random(seed)
    pairs = [
        pair for concept in training_concepts(kb, sources) for pair in concept_pairs(concept, max_per_concept, rng, paraphrase)
    ]
    rng.shuffle(pairs)
    return pairs
