"""Sections and sentences on report-style and note-style text."""

from __future__ import annotations

import spacy

from clinlink.text.component import make_segmenter  # noqa: F401 - registers the factory
from clinlink.text.sections import SectionFinder
from clinlink.text.sentences import sentence_starts

REPORT = (
    "EXAM: Chest two views.\n"
    "INDICATION: Cough and fever.\n"
    "FINDINGS: The heart is normal in size. No focal consolidation\n"
    "or pleural effusion. Dr. Rowe measured a 2.5 cm nodule.\n\n"
    "IMPRESSION:\n"
    "1. No acute cardiopulmonary process.\n"
    "2. Stable XXXX opacity in the left base.\n"
)


def sentences(text: str) -> list[str]:
    starts = sentence_starts(text)
    return [text[a:b].strip() for a, b in zip(starts, starts[1:] + [len(text)])]


def test_report_sections_get_canonical_names():
    found = SectionFinder().find(REPORT)
    assert [s.name for s in found] == ["technique", "indication", "findings", "impression"]
    findings = next(s for s in found if s.name == "findings")
    assert REPORT[findings.start : findings.end].startswith("FINDINGS:")
    assert "IMPRESSION" not in REPORT[findings.start : findings.end]


def test_wrapped_report_line_stays_in_one_sentence():
    assert "No focal consolidation\nor pleural effusion." in sentences(REPORT)


def test_abbreviations_decimals_and_list_numbers_do_not_split():
    result = sentences(REPORT)
    assert "Dr. Rowe measured a 2.5 cm nodule." in result
    assert "1. No acute cardiopulmonary process." in result
    assert "2. Stable XXXX opacity in the left base." in result


def test_note_headers_in_mixed_case_and_bullets():
    note = (
        "History of Present Illness: 54 yo man with chest pain.\n"
        "Past Medical History:\n- hypertension\n- diabetes\n"
        "Family History: mother with breast cancer\n"
        "ROS: negative for fever"
    )
    names = [s.name for s in SectionFinder().find(note)]
    assert names == ["history_of_present_illness", "past_medical_history", "family_history", "review_of_systems"]
    assert "- hypertension" in sentences(note) and "- diabetes" in sentences(note)


def test_capitalised_word_without_colon_is_not_a_header_in_prose():
    assert SectionFinder().find("Findings were discussed with the family.") == []


def test_component_sets_sentences_and_span_sections():
    nlp = spacy.blank("en")
    nlp.add_pipe("clinlink_segmenter")
    doc = nlp(REPORT)
    assert doc.has_annotation("SENT_START")
    token = next(t for t in doc if t.text == "nodule")
    assert doc[token.i : token.i + 1]._.section == "findings"
    assert any(s.text.startswith("1. No acute") for s in doc.sents)


def test_component_handles_empty_whitespace_and_unpunctuated_text():
    nlp = spacy.blank("en")
    nlp.add_pipe("clinlink_segmenter")
    assert nlp("")._.sections == []
    assert len(list(nlp("   \n\n  ").sents)) >= 1
    doc = nlp("no punctuation at all just words " * 50)
    assert len(list(doc.sents)) == 1
