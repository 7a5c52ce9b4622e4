"""Concept sets from ids, JSON and processed docs (hand-built on spacy.blank)."""

from __future__ import annotations

import pytest
import spacy

from clinlink.extensions import register_extensions
from clinlink.similarity import ConceptSet


def make_doc(text: str, mentions: list[tuple[str, str, str, bool]]):
    """mentions: (mention text, concept id, assertion, historical)."""
    register_extensions()
    nlp = spacy.blank("en")
    doc = nlp(text)
    spans = []
    for mention, concept_id, assertion, historical in mentions:
        start = text.index(mention)
        span = doc.char_span(start, start + len(mention), label="DISO")
        span._.concept_id = concept_id
        span._.assertion = assertion
        span._.historical = historical
        spans.append(span)
    doc.ents = spans
    return doc


def test_precedence_inside_one_set():
    s = ConceptSet.of(present=["A"], absent=["A", "B", "C"], possible=["B"])
    assert s.present == {"A": 1.0} and s.possible == {"B": 1.0} and s.absent == {"C": 1.0}
    assert s.status("A") == "present" and s.status("C") == "absent" and s.status("Z") is None


def test_json_round_trip():
    s = ConceptSet.of({"HP:1": 0.7, "HP:2": 1.0}, ["HP:3"], ["HP:4"])
    assert ConceptSet.from_json(s.to_json()) == s
    with pytest.raises(ValueError):
        ConceptSet.from_dict({"present": [], "negated": []})


def test_from_doc_policy():
    text = "Small effusion. No pneumothorax. Possible pneumonia. If fever, consider sepsis. Mother had asthma. Old rib fracture. Heart."
    doc = make_doc(
        text,
        [
            ("effusion", "HP:3", "present", False),
            ("pneumothorax", "HP:5", "absent", False),
            ("pneumonia", "HP:11", "possible", False),
            ("sepsis", "HP:12", "hypothetical", False),
            ("asthma", "HP:13", "family", False),
            ("rib fracture", "HP:14", "present", True),
            ("Heart", None, "present", False),
        ],
    )
    s = ConceptSet.from_doc(doc)
    assert s.present == {"HP:3": 1.0, "HP:14": 1.0}
    assert s.absent == {"HP:5": 1.0}
    assert s.possible == {"HP:11": 1.0}
    assert "HP:14" not in ConceptSet.from_doc(doc, historical="exclude").concepts
    assert ConceptSet.from_doc(doc, historical="possible").status("HP:14") == "possible"
    with pytest.raises(ValueError):
        ConceptSet.from_doc(doc, historical="sometimes")


def test_component_sets_the_dict_form():
    import clinlink.similarity.component  # noqa: F401  (registers the factory without the entry point)

    register_extensions()
    nlp = spacy.blank("en")
    nlp.add_pipe("clinlink_concept_set", config={"historical": "exclude"})
    doc = make_doc("No effusion. Old fracture.", [("effusion", "HP:3", "absent", False), ("fracture", "HP:14", "present", True)])
    doc = nlp.get_pipe("clinlink_concept_set")(doc)
    assert doc._.concept_set == {"present": {}, "absent": {"HP:3": 1.0}, "possible": {}}


def test_resolved_mentions_count_as_absent_now():
    doc = make_doc("Pneumonia has resolved. Small effusion.", [("Pneumonia", "HP:11", "present", False), ("effusion", "HP:3", "present", False)])
    doc.ents[0]._.resolved = True
    s = ConceptSet.from_doc(doc)
    assert s.absent == {"HP:11": 1.0} and s.present == {"HP:3": 1.0}
