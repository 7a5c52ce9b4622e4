"""The weighted symmetric Tversky index between two concept sets, and its explanation.

    S = I / (I + beta * (alpha * min(F, B) + (1 - alpha) * max(F, B)) + C)

Concepts are first folded onto synonym representatives (:class:`ConceptMatcher`).
Every present or possible concept ``a`` of one set looks for its best partner ``b``
among the present or possible concepts of the other set and earns the credit
``decay ** steps(a, b) * share(a, b)``: steps is 0 for the same concept or a synonym
and the number of hierarchy steps for an ancestor or descendant within ``depth``;
share is 1, or ``possible_weight`` when a present concept meets a possible one (a
possible concept counts with ``possible_weight`` of its weight, so it is fully covered
by a present one: fuzzy-set intersection). With ``w(a)`` the concept's weight:

- I = 1/2 * (sum_a w(a) * credit(a) + sum_b w(b) * credit(b))
      + absent_weight * 1/2 * sum over concepts absent in both (w_a + w_b)
- F = sum_a w(a) * (1 - credit(a)),  B = the same for the other set
- C = sum of w(p) over present or possible concepts p that the other set asserts
      absent, directly or through an absent ancestor within ``depth``
      ("no effusion" rules out "left pleural effusion"); such a concept also counts in F or B.

Absent concepts only enter through C (and I when ``absent_weight`` > 0). Two sets
with nothing to compare (I + F + B + C = 0, e.g. two reports without findings) score 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clinlink.kb.knowledge_base import KnowledgeBase
from clinlink.similarity.concept_set import ConceptSet
from clinlink.similarity.matcher import ConceptMatcher, matcher_for
from clinlink.similarity.params import TverskyParams

PRESENT, POSSIBLE, ABSENT = "present", "possible", "absent"
STATUS_ORDER = (PRESENT, POSSIBLE, ABSENT)


@dataclass(frozen=True, slots=True)
class Item:
    """One concept of a set after synonym folding."""

    rep: str  # representative id
    concept: str  # the id the set used (shown in explanations)
    status: str  # present | possible | absent
    weight: float  # effective weight: set weight x concept weight x possible share


def canonical_items(concepts: ConceptSet, matcher: ConceptMatcher, params: TverskyParams) -> dict[str, Item]:
    """Representative id -> item; present wins over possible over absent, then the larger weight."""
    best: dict[str, tuple[int, float, str]] = {}
    for rank, status in enumerate(STATUS_ORDER):
        for concept_id, set_weight in getattr(concepts, status).items():
            rep = matcher.canonical(concept_id)
            candidate = (rank, -set_weight, concept_id)
            if rep not in best or candidate < best[rep]:
                best[rep] = candidate
    items = {}
    for rep, (rank, negative_weight, concept_id) in best.items():
        status = STATUS_ORDER[rank]
        share = params.possible_weight if status == POSSIBLE else 1.0
        items[rep] = Item(rep, concept_id, status, -negative_weight * matcher.weight(rep) * share)
    return items


def share(status: str, other_status: str, possible_weight: float) -> float:
    """The part of a concept's weight that a partner of ``other_status`` covers."""
    if status == PRESENT and other_status == POSSIBLE:
        return possible_weight
    return 1.0


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one concept (or pair) adds to the index.

    kind: shared (same concept), synonym, partial (ancestor/descendant), missing (no partner),
    contradiction, shared_absent. side: the set the concept belongs to ("a" or "b").
    gain is added to I; penalty to F (side a), B (side b), or C for contradictions.
    """

    kind: str
    side: str
    concept: str
    status: str
    partner: str | None
    partner_status: str | None
    relation: str | None  # "same", "synonym", "broader" / "narrower" (the partner relative to the concept)
    distance: int | None
    credit: float
    gain: float
    penalty: float


@dataclass(frozen=True)
class Explanation:
    """A Tversky score with the terms and the concept-level contributions behind it."""

    score: float
    intersection: float
    only_a: float
    only_b: float
    contradiction: float
    items: tuple[Contribution, ...]

    def _kind(self, *kinds: str, side: str | None = None) -> list[Contribution]:
        return [c for c in self.items if c.kind in kinds and (side is None or c.side == side)]

    @property
    def shared(self) -> list[Contribution]:
        return self._kind("shared", "synonym")

    @property
    def partial(self) -> list[Contribution]:
        return self._kind("partial")

    @property
    def missing_a(self) -> list[Contribution]:
        return self._kind("missing", side="a")

    @property
    def missing_b(self) -> list[Contribution]:
        return self._kind("missing", side="b")

    @property
    def contradictions(self) -> list[Contribution]:
        return self._kind("contradiction")

    @property
    def shared_absent(self) -> list[Contribution]:
        return self._kind("shared_absent")

    def describe(self, name: Callable[[str], str] = str, a: str = "query", b: str = "report") -> list[str]:
        """Readable lines, largest effect first: what both say, what only one says, what they contradict."""
        sides = {"a": a, "b": b}
        lines = [
            f"similarity {self.score:.3f}  (shared {self.intersection:.2f}, only in {a} {self.only_a:.2f}, "
            f"only in {b} {self.only_b:.2f}, contradictions {self.contradiction:.2f})"
        ]
        shown: set[tuple[str, str]] = set()
        for c in sorted(self.items, key=lambda c: (-(c.gain + c.penalty), c.kind, c.concept)):
            this = f"{name(c.concept)} [{c.status}]"
            other = f"{name(c.partner)} [{c.partner_status}]" if c.partner else ""
            if c.kind in ("shared", "synonym", "shared_absent"):
                key = tuple(sorted((c.concept, c.partner or "")))
                if key in shown:
                    continue
                shown.add(key)
                total = sum(x.gain for x in self.items if x.kind == c.kind and tuple(sorted((x.concept, x.partner or ""))) == key)
                label = {"shared": "both", "synonym": "both (synonym)", "shared_absent": "both absent"}[c.kind]
                lines.append(f"  {label:<16} {this} = {other}  +{total:.2f}")
            elif c.kind == "partial":
                lines.append(
                    f"  {'related':<16} {this} in {sides[c.side]} ~ {other} ({c.relation}, {c.distance} step"
                    f"{'s' if c.distance != 1 else ''}, credit {c.credit:.2f})  +{c.gain:.2f} / -{c.penalty:.2f}"
                )
            elif c.kind == "missing":
                lines.append(f"  {'only in ' + sides[c.side]:<16} {this}  -{c.penalty:.2f}")
            elif c.kind == "contradiction":
                other_side = sides["b" if c.side == "a" else "a"]
                lines.append(
                    f"  {'contradiction':<16} {this} in {sides[c.side]}, but {other_side} says no {name(c.partner or '')}"
                    f"  -{c.penalty:.2f}"
                )
        return lines


def _best_partner(
    item: Item, others: dict[str, Item], matcher: ConceptMatcher, params: TverskyParams
) -> tuple[float, Item | None, int | None]:
    best: tuple[float, int, str] | None = None
    found: tuple[float, Item | None, int | None] = (0.0, None, None)
    for rep, other in others.items():
        if other.status == ABSENT:
            continue
        distance = matcher.distance(item.rep, rep)
        if distance is None or distance > params.depth:
            continue
        credit = params.decay**distance * share(item.status, other.status, params.possible_weight)
        key = (-credit, distance, rep)
        if best is None or key < best:
            best = key
            found = (credit, other, distance)
    return found


def _negation(item: Item, others: dict[str, Item], matcher: ConceptMatcher) -> Item | None:
    """An absent concept of the other set that is ``item`` or an ancestor within depth."""
    candidates = []
    ancestors = matcher.ancestors(item.rep)
    for rep, other in others.items():
        if other.status != ABSENT:
            continue
        if rep == item.rep:
            candidates.append((0, rep, other))
        elif rep in ancestors:
            candidates.append((ancestors[rep], rep, other))
    return min(candidates)[2] if candidates else None


def _side(
    items: dict[str, Item], others: dict[str, Item], side: str, matcher: ConceptMatcher, params: TverskyParams
) -> list[Contribution]:
    contributions = []
    for rep in sorted(items):
        item = items[rep]
        if item.status == ABSENT:
            other = others.get(rep)
            if params.absent_weight > 0 and other is not None and other.status == ABSENT:
                gain = params.absent_weight * 0.5 * item.weight
                contributions.append(
                    Contribution("shared_absent", side, item.concept, ABSENT, other.concept, ABSENT, "same", 0, 1.0, gain, 0.0)
                )
            continue
        credit, partner, distance = _best_partner(item, others, matcher, params)
        if partner is None:
            contributions.append(
                Contribution("missing", side, item.concept, item.status, None, None, None, None, 0.0, 0.0, item.weight)
            )
        else:
            if distance == 0:
                kind = "shared" if partner.concept == item.concept else "synonym"
                relation = "same" if kind == "shared" else "synonym"
            else:
                kind = "partial"
                relation = "broader" if partner.rep in matcher.ancestors(rep) else "narrower"
            contributions.append(
                Contribution(
                    kind, side, item.concept, item.status, partner.concept, partner.status, relation, distance, credit,
                    0.5 * item.weight * credit, item.weight * (1.0 - credit),
                )
            )
        negation = _negation(item, others, matcher)
        if negation is not None:
            contributions.append(
                Contribution(
                    "contradiction", side, item.concept, item.status, negation.concept, ABSENT,
                    "same" if negation.rep == rep else "broader", matcher.distance(rep, negation.rep), 1.0, 0.0, item.weight,
                )
            )
    return contributions


def combine(intersection: float, only_a: float, only_b: float, contradiction: float, params: TverskyParams) -> float:
    """The index from its terms; 1 when there is nothing to compare."""
    difference = params.alpha * min(only_a, only_b) + (1.0 - params.alpha) * max(only_a, only_b)
    denominator = intersection + params.beta * difference + contradiction
    if denominator <= 0.0:
        return 1.0
    return intersection / denominator


def resolve_params(params: TverskyParams | None = None, preset: str | None = None, **overrides: Any) -> TverskyParams:
    if params is not None:
        if preset or overrides:
            raise TypeError("give either params or preset/settings, not both")
        return params
    return TverskyParams.create(preset, **overrides)


def explain(
    a: ConceptSet,
    b: ConceptSet,
    kb: KnowledgeBase | None = None,
    params: TverskyParams | None = None,
    matcher: ConceptMatcher | None = None,
    **settings: Any,
) -> Explanation:
    """Score two concept sets and list every contribution (the reference implementation).

    Settings: a ``preset`` name and/or any :class:`TverskyParams` field, or a ready ``params``.
    """
    if matcher is not None and params is None and not settings:
        params = matcher.params
    params = resolve_params(params, **settings)
    if matcher is None:
        matcher = matcher_for(kb, params)
    elif matcher.params.matcher_key() != params.matcher_key():
        raise ValueError("the matcher was built for other depth/weight/synonym settings")
    items_a = canonical_items(a, matcher, params)
    items_b = canonical_items(b, matcher, params)
    contributions = _side(items_a, items_b, "a", matcher, params) + _side(items_b, items_a, "b", matcher, params)
    intersection = sum(c.gain for c in contributions)
    only_a = sum(c.penalty for c in contributions if c.side == "a" and c.kind != "contradiction")
    only_b = sum(c.penalty for c in contributions if c.side == "b" and c.kind != "contradiction")
    contradiction = sum(c.penalty for c in contributions if c.kind == "contradiction")
    score = combine(intersection, only_a, only_b, contradiction, params)
    return Explanation(score, intersection, only_a, only_b, contradiction, tuple(contributions))


def tversky(
    a: ConceptSet,
    b: ConceptSet,
    kb: KnowledgeBase | None = None,
    params: TverskyParams | None = None,
    **settings: Any,
) -> float:
    """The weighted symmetric Tversky index of two concept sets, in [0, 1]."""
    return explain(a, b, kb, params, **settings).score
