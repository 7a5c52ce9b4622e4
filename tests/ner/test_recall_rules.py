"""Recall rules of mention detection on a small hand-built KB: word order around "of the",
"multiple"/"numerous" plurals, coordinated mentions, quantity words, hyphenated prefixes."""

from __future__ import annotations

import pytest
import spacy

from clinlink.kb import Concept, KnowledgeBase, Synonym
from clinlink.ner.words import doc_words
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
            _concept("HP:0010610", "Palmar pits"),
            _concept("HP:0010612", "Plantar pits"),
            _concept("HP:0009794", "Branchial anomaly"),
            _concept("HP:0000598", "Abnormality of the ear"),
            _concept("HP:0000077", "Abnormality of the kidney"),
            _concept("HP:0002897", "Parathyroid adenoma"),
            _concept("HP:0008208", "Parathyroid hyperplasia"),
            _concept("HP:0001010", "Hypopigmentation of the skin"),
            _concept("HP:0005599", "Hypopigmentation of hair"),
            _concept("HP:0001256", "Intellectual disability, mild", "Mild intellectual disability"),
            _concept("HP:0010864", "Intellectual disability, severe", "Severe intellectual disability"),
            _concept("HP:0001250", "Seizure"),
            _concept("HP:0000365", "Hearing impairment", "Hearing loss"),
            _concept("HP:0000822", "Hypertension"),
            _concept("HP:0001265", "Hyporeflexia", "Decreased reflexes"),
            _concept("HP:0003573", "Increased serum lactate"),
            _concept("HP:0004467", "Preauricular pit"),
            _concept("HP:0030025", "Auricular pit"),
            _concept("HP:0100602", "Pre-eclampsia"),
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
            span = doc[words[match.start].start_token : words[match.end - 1].token + 1]
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Examination showed palmar and plantar pits.",
            [("palmar", "HP:0010610"), ("plantar pits", "HP:0010612")],
        ),
        (
            "It combines branchial, otic and renal anomalies.",
            [("branchial", "HP:0009794"), ("otic", "HP:0000598"), ("renal anomalies", "HP:0000077")],
        ),
        (
            "Risk of parathyroid adenoma or hyperplasia.",
            [("parathyroid adenoma", "HP:0002897"), ("hyperplasia", "HP:0008208")],
        ),
        (
            "Hypopigmentation of skin or hair was seen.",
            [("Hypopigmentation of skin", "HP:0001010"), ("hair", "HP:0005599")],
        ),
        (
            "Boys have mild-to-severe intellectual disability.",
            [("mild", "HP:0001256"), ("severe intellectual disability", "HP:0010864")],
        ),
    ],
)
def test_coordinated_conjuncts_share_the_head(nlp, dictionary, text, expected):
    assert detect(nlp, dictionary, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "He had seizures and hearing loss.",  # "seizure loss" is no name
        "Parathyroid adenoma and hypertension.",  # a conjunct that is a name of its own stays itself
        "Lesions spread from palmar to plantar pits.",  # "to" joins severities only
    ],
)
def test_unrelated_neighbours_are_not_expanded(nlp, dictionary, text):
    assert all(kind != "coordination" for kind in kinds(nlp, dictionary, text))


def kinds(nlp, dictionary, text):
    doc = nlp(text)
    return [match.kind for sentence in doc.sents for match in find_matches(doc_words(sentence), dictionary)]


def test_coordination_can_be_switched_off(nlp, dictionary):
    doc = nlp("palmar and plantar pits")
    matches = find_matches(doc_words(doc[:]), dictionary, coordination=False)
    assert [m.concept_ids[0] for m in matches] == ["HP:0010612"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Reduced reflexes in the legs.", ("Reduced reflexes", "HP:0001265")),
        ("Diminished reflexes.", ("Diminished reflexes", "HP:0001265")),
        ("Elevated serum lactate.", ("Elevated serum lactate", "HP:0003573")),
        ("High serum lactate.", ("High serum lactate", "HP:0003573")),
    ],
)
def test_quantity_words_are_interchangeable(nlp, dictionary, text, expected):
    assert detect(nlp, dictionary, text) == [expected]


def test_hyphenated_prefix_reads_as_one_word(nlp, dictionary):
    # text "pre-auricular" meets the name "Preauricular pit", not the shorter "Auricular pit"
    assert detect(nlp, dictionary, "He had pre-auricular pits.") == [("pre-auricular pits", "HP:0004467")]
    # a name with the prefix standing apart also matches the joined spelling
    assert detect(nlp, dictionary, "History of preeclampsia.") == [("preeclampsia", "HP:0100602")]
    # a hyphen with spaces around it is no prefix
    assert detect(nlp, dictionary, "pre - auricular pits") == [("auricular pits", "HP:0030025")]
