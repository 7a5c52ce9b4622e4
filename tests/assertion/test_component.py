"""The clinlink_context spaCy component on gold entities set by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span

import clinlink.assertion.component  # noqa: F401  (registers clinlink_context)
from clinlink.assertion import DEFAULT_LEXICON


def with_entities(nlp, text: str, *phrases: str) -> Doc:
    """A doc whose entities are the given phrases (first occurrence of each), as a gold annotator would set them."""
    doc = nlp.make_doc(text)
    spans = []
    for phrase in phrases:
        start = text.index(phrase)
        spans.append(doc.char_span(start, start + len(phrase), label="FINDING"))
    doc.ents = spans
    return doc


def summary(doc: Doc) -> list[tuple]:
    return [(e.text, e._.assertion, e._.historical, e._.assertion_cues) for e in doc.ents]


@pytest.fixture(scope="module")
def nlp():
    pipeline = spacy.blank("en")
    pipeline.add_pipe("sentencizer")
    pipeline.add_pipe("clinlink_context")
    return pipeline


TEXT = (
    "No pleural effusion. Mother had breast cancer. Possible pneumonia. "
    "History of gout. Call if fever develops. Wheezing only with exercise. Mild cough."
)
PHRASES = ("pleural effusion", "breast cancer", "pneumonia", "gout", "fever", "Wheezing", "cough")


def test_gold_entities_get_assertions_and_cues(nlp):
    doc = nlp(with_entities(nlp, TEXT, *PHRASES))
    statuses = [(e.text, e._.assertion, e._.historical) for e in doc.ents]
    assert statuses == [
        ("pleural effusion", "absent", False),
        ("breast cancer", "family", False),
        ("pneumonia", "possible", False),
        ("gout", "present", True),
        ("fever", "hypothetical", False),
        ("Wheezing", "conditional", False),
        ("cough", "present", False),
    ]
    cues = {e.text: e._.assertion_cues for e in doc.ents}
    assert cues["pleural effusion"] == [[0, 2, "no", "absent"]]
    start = TEXT.index("Mother")
    assert cues["breast cancer"] == [[start, start + 6, "mother", "family"]]
    assert cues["cough"] == []
    for values in cues.values():
        for start_char, end_char, cue, _category in values:
            assert doc.text[start_char:end_char].lower() == cue


def test_doc_without_sentence_boundaries_uses_the_splitter():
    bare = spacy.blank("en")
    bare.add_pipe("clinlink_context")
    doc = bare(with_entities(bare, "No fever. Cough for two days", "fever", "Cough"))
    assert [e._.assertion for e in doc.ents] == ["absent", "present"]


def test_section_defaults_from_doc_sections():
    pipeline = spacy.blank("en")
    pipeline.add_pipe("clinlink_context")
    # headers without cue words of their own, so only the section names decide
    text = "BACKGROUND: Diabetes.\nPROBLEMS: Asthma.\nFINDINGS: Effusion."
    doc = with_entities(pipeline, text, "Diabetes", "Asthma", "Effusion")
    first, second, third = text.index("PROBLEMS"), text.index("FINDINGS"), len(text)
    doc._.sections = [
        [0, first, "family_history", "BACKGROUND"],
        [first, second, "past_medical_history", "PROBLEMS"],
        [second, third, "findings", "FINDINGS"],
    ]
    doc = pipeline(doc)
    assert [(e._.section, e._.assertion, e._.historical) for e in doc.ents] == [
        ("family_history", "family", False),
        ("past_medical_history", "present", True),
        ("findings", "present", False),
    ]
    assert doc.ents[0]._.assertion_cues == [[0, 10, "family_history", "family"]]
    assert doc.ents[1]._.assertion_cues == [[first, first + 8, "past_medical_history", "historical"]]

    off = spacy.blank("en")
    off.add_pipe("clinlink_context", config={"section_defaults": False})
    doc = with_entities(off, text, "Diabetes", "Asthma", "Effusion")
    doc._.sections = [[0, third, "family_history", "FAMILY HISTORY"]]
    assert [e._.assertion for e in off(doc).ents] == ["present", "present", "present"]


def test_empty_doc_and_no_entities(nlp):
    assert len(nlp("").ents) == 0
    doc = nlp("No fever and no chills.")
    assert doc.ents == ()
    assert Span(doc, 1, 2)._.assertion == "present"  # the registered default


def custom_lexicon(tmp_path: Path) -> Path:
    """The packaged lexicon plus one extra negation cue."""
    text = DEFAULT_LEXICON.read_text(encoding="utf-8")
    text = text.replace("  absent:\n    forward:\n", "  absent:\n    forward:\n      - nix\n", 1)
    path = tmp_path / "custom.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_custom_lexicon_and_disk_round_trip(tmp_path):
    lexicon = custom_lexicon(tmp_path)
    pipeline = spacy.blank("en")
    pipeline.add_pipe("sentencizer")
    pipeline.add_pipe("clinlink_context", config={"lexicon": str(lexicon)})
    text = "Nix fever. Possible rash. Denies pain, but has cough."
    entities = ("fever", "rash", "pain", "cough")
    before = summary(pipeline(with_entities(pipeline, text, *entities)))
    assert [status for _, status, _, _ in before] == ["absent", "possible", "absent", "present"]

    pipeline.to_disk(tmp_path / "model")
    lexicon.unlink()  # the saved pipeline carries its own copy
    loaded = spacy.load(tmp_path / "model")
    assert summary(loaded(with_entities(loaded, text, *entities))) == before
    assert (tmp_path / "model" / "clinlink_context" / "lexicon.yaml").exists()


def test_default_pipeline_round_trip(tmp_path, nlp):
    nlp.to_disk(tmp_path / "default")
    loaded = spacy.load(tmp_path / "default")
    assert summary(loaded(with_entities(loaded, TEXT, *PHRASES))) == summary(nlp(with_entities(nlp, TEXT, *PHRASES)))


def test_docbin_round_trip_keeps_extension_values(nlp):
    doc = nlp(with_entities(nlp, TEXT, *PHRASES))
    docbin = DocBin(store_user_data=True)
    docbin.add(doc)
    restored = list(DocBin(store_user_data=True).from_bytes(docbin.to_bytes()).get_docs(nlp.vocab))[0]
    # msgpack hands sequences back as tuples; the values are the same
    as_lists = [(text, status, historical, [list(cue) for cue in cues]) for text, status, historical, cues in summary(restored)]
    assert as_lists == summary(doc)
    assert [e.label_ for e in restored.ents] == ["FINDING"] * len(PHRASES)


def test_bad_lexicon_path_names_the_file(tmp_path):
    pipeline = spacy.blank("en")
    pipeline.add_pipe("clinlink_context", config={"lexicon": str(tmp_path / "missing.yaml")})
    with pytest.raises(Exception, match="missing.yaml"):
        pipeline(with_entities(pipeline, "No fever.", "fever"))


def test_resolved_problem_is_present_with_the_flag(nlp):
    text = "Acute kidney injury on admission, resolved with fluids. Mild cough."
    doc = nlp(with_entities(nlp, text, "Acute kidney injury", "cough"))
    assert [(e.text, e._.assertion, e._.resolved) for e in doc.ents] == [
        ("Acute kidney injury", "present", True),
        ("cough", "present", False),
    ]
    assert doc.ents[0]._.assertion_cues == [[34, 42, "resolved", "resolved"]]


def test_a_header_with_text_on_its_line_heads_that_line_only():
    pipeline = spacy.blank("en")
    pipeline.add_pipe("clinlink_context")
    text = "Family history: an uncle with diabetes.\nFasciculations in the deltoid.\nFAMILY HISTORY:\nAsthma.\nEczema."
    doc = with_entities(pipeline, text, "diabetes", "Fasciculations", "Asthma", "Eczema")
    second = text.index("FAMILY HISTORY")
    doc._.sections = [[0, second, "family_history", "Family history"], [second, len(text), "family_history", "FAMILY HISTORY"]]
    assert [e._.assertion for e in pipeline(doc).ents] == ["family", "present", "family", "family"]
