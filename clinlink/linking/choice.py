"""The final concept of a mention, chosen in one place for :meth:`Linker.annotate` and the spaCy component.

:func:`choose` settles the primary concept among the linker's candidates and the mention detector's match;
:func:`specific_icd` moves an ICD-10-CM choice down to the code a coder would write: the side the sentence
states, else the "unspecified" (or "without complications") leaf rather than a category (hematuria: R31 ->
R31.9); :func:`combination_icd` picks the combination code when the sentence names both parts (type 2 diabetes
+ neuropathy -> E11.40); :func:`both_sides` codes a finding on both sides whose code has no bilateral child as
its right and left codes (ICD-10-CM guideline I.B.13: "pain in both legs" -> M79.604 and M79.605).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from clinlink.kb import KnowledgeBase
from clinlink.linking.candidates import Candidate
from clinlink.linking.icd_names import core_name
from clinlink.linking.sites import words_around
from clinlink.text.normalize import tokens

ICD10CM = "ICD10CM"
#: Score a code linked within one vocabulary needs unless it is an exact name (chosen on CodiEsp train, benchmarks/coding.py).
CODE_THRESHOLD = 0.9
#: Children that a mention saying nothing more stands for, best first.
DEFAULT_CHILD = (
    re.compile(r",\s*unspecified\b|\bnos$"), re.compile(r"\bwithout (?:complications?|mention)$|,\s*uncomplicated$"),
    re.compile(r"\bunspecified\b"),
    # the Index's defaults where a title does not say: "Migraine G43.909", "Leukemia C95.90", "Hernia, inguinal K40.90"
    re.compile(r"\bnot (?:intractable|having achieved remission|specified as recurrent)\b"),
)
SIDE_REACH_AFTER = 4  # attached words after a mention whose side they state: "fracture of the left femur"
SIDES = {"left": re.compile(r"\bleft\b"), "right": re.compile(r"\bright\b"), "bilateral": re.compile(r"\bbilateral(?:ly)?\b|\bboth\b")}


def choose(
    kb: KnowledgeBase,
    candidates: list[Candidate],
    preset: str | None = None,
    detector_score: float | None = None,
    override_margin: float = 0.1,
) -> Candidate | None:
    """The linked concept: the first candidate, unless the mention detector's concept ``preset`` stands.

    The detector's concept is kept unless the linker is clearly sure of another one: its first candidate is an
    exact name (and the preset is not), or the detector's match was fuzzy (``detector_score`` below 1) and the
    first candidate scores ``override_margin`` above the preset's (a preset outside the list counts at the last
    candidate's score).
    """
    chosen = candidates[0] if candidates else None
    if preset is None:
        return chosen
    kept = kb.find(preset)
    if kept is None or not _keep_preset(kept.id, detector_score, candidates, override_margin):
        return chosen
    score = next((c.score for c in candidates if c.concept_id == kept.id), None)
    read_as_name = score is None or (detector_score is not None and detector_score >= 1.0)
    return Candidate(kept.id, kept.name, 1.0 if score is None else score, exact=read_as_name)


def _keep_preset(preset: str, detector_score: float | None, candidates: list[Candidate], override_margin: float) -> bool:
    if not candidates or candidates[0].concept_id == preset:
        return True
    top = candidates[0]
    preset_candidate = next((c for c in candidates if c.concept_id == preset), None)
    if preset_candidate is not None and preset_candidate.exact:
        return True  # both are exact names ("Cardiomegaly" in HPO and ICD-10-CM): the detector's source order decides
    if top.exact:
        return False
    if detector_score is None or detector_score >= 1.0:
        return True  # a dictionary match, not a fuzzy one: the detector read the name, the linker scores near names
    preset_score = preset_candidate.score if preset_candidate is not None else candidates[-1].score
    return top.score < preset_score + override_margin


def specific_icd(kb: KnowledgeBase, concept_id: str, context: str = "") -> str:
    """The ICD-10-CM code below ``concept_id`` that the text supports: down the side ``context`` states, else
    down the default ("unspecified", "without complications") child, as long as there is one; 7th-character
    extensions (not indexed) are not entered."""
    sides = sides_of(context)
    current = concept_id
    while True:
        children = [kb.get(child) for child in kb.children(current)]
        children = [child for child in children if child.indexed]
        if not children:
            return current
        following = (
            _side_child(children, sides)
            or _same_core_child(kb.get(current).name, children)
            or _default_child(kb.get(current).name, _on_stated_side(children, sides))
        )
        if following is None:
            return current
        current = following


def both_sides(kb: KnowledgeBase, code: str, context: str = "") -> tuple[str, str] | None:
    """The (right, left) codes of ``code``, an unspecified-side code, where ``context`` says both sides and its
    siblings hold no bilateral code: the siblings whose titles are its own with "right" / "left" ("Pain in leg,
    unspecified" -> "Pain in right leg", "Pain in left leg"). None otherwise."""
    if sides_of(context) != ["bilateral"] or any(pattern.search(kb.get(code).name.lower()) for pattern in SIDES.values()):
        return None
    parents = kb.parents(code)
    if not parents:
        return None
    siblings = [kb.get(child) for child in kb.children(parents[0]) if child != code]
    if any(SIDES["bilateral"].search(sibling.name.lower()) for sibling in siblings):
        return None
    core = _unsided(kb.get(code).name, "unspecified")
    found = {}
    for side in ("right", "left"):
        named = [s.id for s in siblings if SIDES[side].search(s.name.lower()) and _unsided(s.name, side) == core]
        if len(named) != 1:
            return None
        found[side] = specific_icd(kb, named[0], side)
    return found["right"], found["left"]


def _unsided(name: str, word: str) -> str:
    """The core of an ICD-10-CM title without ``word`` ("right", "left", "unspecified")."""
    return core_name(re.sub(rf"\b{word}\b", "", name, flags=re.IGNORECASE))[0]


def side_context(mention: str, context: str | None, position: tuple[int, int] | None = None) -> str:
    """The text whose side words count for a mention: the mention when it states a side, else its sentence; a
    sentence naming more than one side narrows, where ``position`` (the mention's characters in it) is known, to
    the words just before the mention and those attached after it ("Left rib fracture and right knee pain")."""
    lowered = mention.lower()
    if any(pattern.search(lowered) for pattern in SIDES.values()):
        return mention
    if not context or position is None or sum(bool(p.search(context.lower())) for p in SIDES.values()) < 2:
        return context or ""
    before, attached = words_around(tokens(mention), context, position, reach_after=SIDE_REACH_AFTER)
    return " ".join([*before, lowered, *attached])


def sides_of(text: str) -> list[str]:
    """The sides ``text`` names ("left", "right", "bilateral"), in :data:`SIDES` order."""
    lowered = text.lower()
    return [side for side, pattern in SIDES.items() if pattern.search(lowered)]


def _side_child(children: list, sides: list[str]) -> str | None:
    if len(sides) != 1:
        return None
    pattern = SIDES[sides[0]]
    matching = [child.id for child in children if pattern.search(child.name.lower())]
    return matching[0] if len(matching) == 1 else None


def _on_stated_side(children: list, sides: list[str]) -> list:
    """The children a default may be taken from: the bilateral ones for a mention said to be bilateral, else the
    others (one side is the default: "Hernia, inguinal K40.90", unilateral), when both kinds are there."""
    bilateral = SIDES["bilateral"]
    wanted = [child for child in children if bool(bilateral.search(child.name.lower())) == (sides == ["bilateral"])]
    return wanted or children


def _same_core_child(name: str, children: list) -> str | None:
    """The one child whose title is the parent's with a default mark: "Pneumonia, unspecified organism" under
    "Pneumonia"."""
    core = core_name(name)[0]
    matching = [child.id for child in children if core_name(child.name) == (core, 0)]
    return matching[0] if len(matching) == 1 else None


def _default_child(parent_name: str, children: list) -> str | None:
    """The one child that reads as the default: ", unspecified" / NOS, "without complications" / ", uncomplicated",
    "unspecified", "not intractable" / "not having achieved remission" / "not specified as recurrent", one
    "unspecified" more than the parent, or "without ..." with no "with ..." (I25.1 -> I25.10 ... without angina
    pectoris; K46 -> K46.9 ... without obstruction or gangrene), of several such the one that is the parent's title
    with "without ..." (N40 -> N40.0 Benign prostatic hyperplasia without lower urinary tract symptoms)."""
    for pattern in DEFAULT_CHILD:
        matching = [child.id for child in children if pattern.search(child.name.lower())]
        if len(matching) == 1:
            return matching[0]
    more = _UNSPECIFIED.findall(parent_name.lower())
    matching = [child.id for child in children if len(_UNSPECIFIED.findall(child.name.lower())) > len(more)]
    if len(matching) == 1:
        return matching[0]
    matching = [child for child in children if _WITHOUT.search(child.name.lower())]
    if len(matching) > 1:  # "with obstruction, without gangrene" is not the default; "without obstruction or gangrene" is
        matching = [child for child in matching if not _WITH.search(child.name.lower())]
    if len(matching) > 1:  # N40: "Benign prostatic hyperplasia without ...", not "Nodular prostate without ..."
        matching = [child for child in matching if _before_without(child.name) == parent_name.lower()] or matching
    return matching[0].id if len(matching) == 1 else None


def _before_without(name: str) -> str:
    return _WITHOUT.split(name.lower(), maxsplit=1)[0].strip(" ,")


_UNSPECIFIED = re.compile(r"\bunspecified\b")
_WITHOUT = re.compile(r"\bwithout\b")
_WITH = re.compile(r"\bwith\b")


def combination_icd(kb: KnowledgeBase, concept_id: str, others: Sequence[str]) -> str | None:
    """The shortest-coded descendant of ``concept_id`` titled "<it> with / due to / in <X>" where X holds every
    word of one of ``others`` (the texts and concept names of the other mentions in the sentence), or None:
    "type 2 diabetes" + "neuropathy" -> E11.40 Type 2 diabetes mellitus with diabetic neuropathy, unspecified."""
    wanted = [set(tokens(other)) - FILLER for other in others]
    wanted = [words for words in wanted if words]
    if not wanted:
        return None
    best = None
    for descendant in kb.descendants(concept_id):
        concept = kb.get(descendant)
        if not concept.indexed:
            continue
        match = _LINKS.search(concept.name.lower())
        if match is None:
            continue
        rest = set(tokens(concept.name[match.end() :]))
        if any(words <= rest for words in wanted) and (best is None or (len(descendant), descendant) < (len(best), best)):
            best = descendant
    return best


#: Words a combination title adds that the other mention need not say.
FILLER = frozenset({"unspecified", "other", "of", "the", "a", "an", "and", "with", "nos"})
_LINKS = re.compile(r"\b(with|due to|in)\b")



#: Vocabulary names as ``span._.codes`` keys them -> the KB source of their concepts.
VOCABULARY_SOURCES = {"HPO": "HP", "HP": "HP", "ICD10CM": "ICD10CM", "SNOMEDCT": "SNOMEDCT", "UMLS": "UMLS"}


def vocabulary_key(name: str) -> str:
    """The ``span._.codes`` key of a vocabulary or source name ("HP" -> "HPO")."""
    source = VOCABULARY_SOURCES.get(name.upper(), name.upper())
    return "HPO" if source == "HP" else source


@dataclass(slots=True)
class LinkedMention:
    """A mention's link: the primary ``concept`` (None: NIL), its ranked ``candidates`` and ``codes``:
    vocabulary -> ``[[code, name, score], ...]``, the best linked code of each target vocabulary first (score
    set), then cross-references of the chosen concepts (score None)."""

    concept: Candidate | None
    candidates: list[Candidate]
    codes: dict[str, list[list]] = field(default_factory=dict)
