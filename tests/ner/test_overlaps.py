"""Overlapping candidate spans are resolved in one place before ``doc.ents`` is set (spaCy E1010 never raised)."""

from __future__ import annotations

import pytest
import spacy
from spacy.tokens import Span

import clinlink
from clinlink.ner.component import resolve_overlaps

CRASHED = (
    "She presented with macroscopic hematuria (post-procedural hematuria), hypotension, fever, renal function "
    "worsening, hematuria secondary to acute sepsis associated with septic shock/2004, where she died due to acute sepsis."
)


@pytest.fixture(scope="module")
def doc():
    return spacy.blank("en")("The long pleural effusion form (LPEF) and fever")


def test_longest_span_wins_and_the_result_can_be_set(doc):
    spans = [Span(doc, 2, 4, "DISO"), Span(doc, 1, 4, "DISO"), Span(doc, 3, 4, "DISO"), Span(doc, 9, 10, "DISO")]
    kept = resolve_overlaps(spans)
    assert [(s.start, s.end) for s in kept] == [(1, 4), (9, 10)]
    doc.ents = kept


def test_secondary_spans_fill_only_free_tokens(doc):
    primary = [Span(doc, 2, 4, "DISO")]
    short_forms = [Span(doc, 3, 5, "DISO"), Span(doc, 6, 7, "DISO")]  # the first overlaps "effusion"
    kept = resolve_overlaps(primary, short_forms)
    assert [(s.start, s.end) for s in kept] == [(2, 4), (6, 7)]
    doc.ents = kept


@pytest.mark.slow
def test_sentence_whose_abbreviation_overlapped_a_mention_annotates(default_kb):
    nlp = clinlink.load(exclude=("linker",))
    doc = nlp(CRASHED)
    texts = [ent.text for ent in doc.ents]
    assert "hypotension" in texts and "fever" in texts
    assert texts.count("sepsis") == 2
    tokens = [i for ent in doc.ents for i in range(ent.start, ent.end)]
    assert len(tokens) == len(set(tokens))
