"""Bad and odd input through the whole default pipeline: no crash, sensible output."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import clinlink

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nlp(default_kb):
    return clinlink.load(exclude=("linker",))


def check_entities(doc):
    text = doc.text  # rebuilt from the tokens on each access
    for entity in doc.ents:
        assert text[entity.start_char : entity.end_char] == entity.text
        assert entity._.concept_id
        assert entity._.assertion in {"present", "absent", "possible", "conditional", "hypothetical", "family"}


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\n\n\t\n", "\x00\x01\x02 pneumonia \x1b[31m", "Pneumonia 😷🫁 with effusión, pleural 🙂",
     "no punctuation at all pleural effusion and pneumonia and fever", "((((", "X" * 5000, "**NAME[AAA] has XXXX pneumonia"],
)
def test_odd_texts(nlp, text):
    check_entities(nlp(text))


def test_one_megabyte_note(nlp):
    text = ("FINDINGS: No pleural effusion. Possible pneumonia. Heart size normal.\n" * 15000)[:1_000_000]
    doc = nlp(text)
    check_entities(doc)
    assert len(doc.ents) > 10_000
    assert all(e._.assertion == "absent" for e in doc.ents if e.text == "pleural effusion")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=0, max_size=300))
def test_random_unicode_never_crashes(nlp, text):
    check_entities(nlp(text))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["no", "pleural", "effusion", "possible", "pneumonia", ",", ".", "\n", "mother", "FINDINGS:", "history of", "🙂", "but"]), max_size=40))
def test_random_clinical_word_salad(nlp, words):
    check_entities(nlp(" ".join(words)))
