"""spaCy extension attributes set by clinlink components, registered once.

Every stored value is plain data (str, float, bool, lists, dicts), so docs
round-trip through ``DocBin(store_user_data=True)``.

Span (entities):
    section          canonical section name ("findings", "family_history", ...) or ""
    concept_id       linked concept id ("HP:0002202") or None (NIL)
    concept_name     preferred name of the linked concept
    score            linking score in [0, 1]
    candidates       [[concept_id, name, score], ...], best first
    codes            {vocabulary: [[code, name, score], ...]}: the best code linked in each target vocabulary
                     (score set), then cross-references of the chosen concepts (score None), e.g.
                     {"ICD10CM": [["R31.9", "Hematuria, unspecified", 0.93]], "HPO": [["HP:0000790", "Hematuria", 1.0]],
                      "UMLS": [["C0018965", None, None]]}
    assertion        present | absent | possible | conditional | hypothetical | family
    historical       True when the problem began before this encounter (past or long-standing)
    resolved         True when it happened and is over now ("headache resolved"; assertion stays present)
    assertion_cues   [[start_char, end_char, cue text, category], ...] that decided it
    expansion        the long form a clinical short form was read as ("SOB" -> "shortness of breath"), or None
Doc:
    sections         [[start_char, end_char, section name, header text], ...]
    concept_set      ConceptSet as a dict (see clinlink.similarity)
    codes            {vocabulary: [{"code", "name", "score", "mentions": [[start_char, end_char, text], ...]}, ...]}:
                     the document's linked codes, ranked and deduplicated, without absent, family and
                     hypothetical mentions (see clinlink.linking.component.document_codes)
"""

from __future__ import annotations

from bisect import bisect_right

from spacy.tokens import Doc, Span

SPAN_DEFAULTS: dict[str, object] = {
    "concept_id": None,
    "concept_name": None,
    "score": None,
    "candidates": None,
    "codes": None,
    "assertion": "present",
    "historical": False,
    "resolved": False,
    "assertion_cues": None,
    "expansion": None,
}
DOC_DEFAULTS: dict[str, object] = {"sections": None, "concept_set": None, "codes": None}


def section_at(sections: list | tuple | None, char: int) -> list | tuple | None:
    """The ``[start, end, name, header]`` entry holding ``char`` (binary search), or None."""
    if not sections:
        return None
    position = bisect_right(sections, char, key=lambda section: section[0]) - 1
    if position >= 0 and sections[position][0] <= char < sections[position][1]:
        return sections[position]
    return None


def section_of(span: Span) -> str:
    """The name of the section a span starts in ("" when the doc has no sections)."""
    section = section_at(span.doc._.sections, span.start_char)
    return section[2] if section else ""


def register_extensions() -> None:
    """Register every clinlink extension; safe to call many times."""
    for name, default in SPAN_DEFAULTS.items():
        if not Span.has_extension(name):
            Span.set_extension(name, default=default)
    if not Span.has_extension("section"):
        Span.set_extension("section", getter=section_of)
    for name, default in DOC_DEFAULTS.items():
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=default)
