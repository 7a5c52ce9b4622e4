"""Recall rules of mention detection on a small hand-built KB: word order around "of the",
"multiple"/"numerous" plurals."""

from __future__ import annotations

import pytest
import spacy

from clinlink.kb import Concept, KnowledgeBase, Synonym
from clinlink.ner.component import doc_words
from clinlink.ner.dictionary import ConceptFilter, MentionDictionary
from clinlink.ner.matcher import find_matches
from clinlink.text.component import make_segmenter  # noqa: F401 - registers the factory


def _concept(concept_id: str, name: str, *synonyms: str) -> Concept:
    return Concept(concept_id, "HP", name, [Synonym(s, "EXACT") for s in synonyms], group="DISO", parents=["HP:0000118"])


@pytest.fixture(scope="module")
def dictionary() -> MentionDictionary:
    kb = KnowledgeBase(
        [
            Concept("HP:0000118", "HP", "Phenotypic abnormality", group="DISO"),
            _concept("HP:0002176", "Spinal cord compression"),
            _concept("HP:0004415", "Pulmonary artery stenosis"),
            _concept("HP:0002630", "Fat malabsorption"),
            _concept("HP:0002024", "Malabsorption"),
            _concept("HP:0003764", "Nevus"),
            _concept("HP:0001054", "Numerous nevi"),
            _concept("HP:0030430", "Neuroma"),
            _concept("HP:0031023", "Multiple mucosal neuromas"),
            _concept("HP:0000028", "Cryptorchidism"),
        ]
    )
    return MentionDictionary.from_kb(kb, ConceptFilter(), prefer_sources=("HP",))


@pytest.fixture(scope="module")
def nlp():
    pipeline = spacy.blank("en")
    pipeline.add_pipe("clinlink_segmenter")
    return pipeline


def detect(nlp, dictionary, text):
    doc = nlp(text)
    found = []
    for sentence in doc.sents:
        words = doc_words(sentence)
        for match in find_matches(words, dictionary):
            span = doc[words[match.start].token : words[match.end - 1].token + 1]
            found.append((span.text, match.concept_ids[0]))
    return found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Compression of the spinal cord was seen.", ("Compression of the spinal cord", "HP:0002176")),
        ("He had stenosis of the pulmonary artery.", ("stenosis of the pulmonary artery", "HP:0004415")),
        ("Vomiting and malabsorption of fat.", ("malabsorption of fat", "HP:0002630")),
    ],
)
def test_x_of_the_y_matches_y_x(nlp, dictionary, text, expected):
    assert expected in detect(nlp, dictionary, text)


def test_of_the_never_starts_or_ends_a_window(nlp, dictionary):
    # "the spinal cord compression of" is not a window; the name inside it still matches
    assert detect(nlp, dictionary, "Signs of the spinal cord compression of note.") == [("spinal cord compression", "HP:0002176")]
    # other function words keep word order fixed
    assert detect(nlp, dictionary, "Fat with malabsorption.") == [("malabsorption", "HP:0002024")]


def test_multiple_and_numerous_stand_for_each_other(nlp, dictionary):
    assert detect(nlp, dictionary, "Examination revealed multiple nevi.") == [("multiple nevi", "HP:0001054")]
    assert detect(nlp, dictionary, "A single nevus.") == [("nevus", "HP:0003764")]


def test_plural_reaches_a_multiple_concept_without_a_singular_name(nlp, dictionary):
    # "mucosal neuroma" is no name, "Multiple mucosal neuromas" is
    assert detect(nlp, dictionary, "Mucosal neuromas of the lips.")[0] == ("Mucosal neuromas", "HP:0031023")
    assert detect(nlp, dictionary, "A mucosal neuroma.") == [("neuroma", "HP:0030430")]
