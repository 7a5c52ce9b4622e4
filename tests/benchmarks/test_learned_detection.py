"""The n-grams benchmarks/learned_detection.py links and how kept n-grams resolve overlaps, on made-up text."""

from __future__ import annotations

import sys
from pathlib import Path

import spacy
from spacy.tokens import Span

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from learned_detection import document_scores, kept, ngrams  # noqa: E402


def _doc(text: str, mention: tuple[int, int] | None = None):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    doc = nlp(text)
    if mention:
        doc.ents = [Span(doc, *mention, label="FINDING")]
    return doc


def test_ngrams_skip_mentions_punctuation_and_stop_word_ends():
    doc = _doc("She had recurrent apneic spells and short stature, with seizures.", mention=(6, 8))
    texts = {doc[a:b].text for a, b in ngrams(doc)}
    assert {"recurrent apneic spells", "apneic spells", "spells", "seizures"} <= texts
    assert "short stature" not in texts and "stature" not in texts  # inside the dictionary's mention
    assert not any(t.split()[0] in {"had", "and", "with"} or t.endswith(" and") for t in texts)
    assert "spells and short" not in texts and all("," not in t for t in texts)
    assert "had" not in texts  # one short word alone is never a candidate


def test_kept_prefers_the_heavier_of_overlapping_ngrams():
    links = [
        {"start": 0, "end": 2, "concept_id": "HP:1", "score": 0.9},
        {"start": 1, "end": 2, "concept_id": "HP:2", "score": 0.95},
        {"start": 3, "end": 4, "concept_id": "HP:3", "score": 0.5},
    ]
    assert kept(links, [0.1, 0.2, -0.1]) == {"HP:2"}
    assert kept(links, [0.3, 0.2, 0.0]) == {"HP:1", "HP:3"}


def test_document_scores_add_kept_ngrams_to_the_dictionary_concepts():
    rows = [{"corpus": "GSC+", "base": ["HP:1"], "gold": ["HP:1", "HP:2"], "ngrams": [
        {"start": 0, "end": 1, "concept_id": "HP:2", "score": 0.9}, {"start": 2, "end": 3, "concept_id": "HP:9", "score": 0.7},
    ]}]
    assert document_scores(rows, "GSC+", lambda links: [-1.0] * len(links)) == {"p": 1.0, "r": 0.5, "f1": 2 / 3}
    assert document_scores(rows, "GSC+", lambda links: [link["score"] - 0.8 for link in links])["r"] == 1.0
