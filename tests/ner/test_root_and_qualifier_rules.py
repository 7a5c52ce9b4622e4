"""Derivational-root matches (a name's words in another form and order), qualified children ("severe" +
a matched concept), and classification titles that must not lose their object."""

from __future__ import annotations

import pytest
import spacy

from clinlink.kb import Concept, KnowledgeBase, Synonym
from clinlink.ner.dictionary import ConceptFilter, MentionDictionary
from clinlink.ner.matcher import find_matches
from clinlink.ner.roots import root_key
from clinlink.ner.variants import load_variant_rules
from clinlink.ner.words import doc_words
from clinlink.text.component import make_segmenter  # noqa: F401 - registers the factory


def _hp(concept_id: str, name: str, *synonyms: str, parent: str = "HP:0000118") -> Concept:
    return Concept(concept_id, "HP", name, [Synonym(s, "EXACT") for s in synonyms], group="DISO", parents=[parent])


CONCEPTS = [
    Concept("HP:0000118", "HP", "Phenotypic abnormality", group="DISO"),
    _hp("HP:0006446", "Dysplastic patella"),
    _hp("HP:0006237", "Prominent interphalangeal joints"),
    _hp("HP:0001263", "Global developmental delay", "Developmental delay"),
    _hp("HP:0011344", "Severe global developmental delay", parent="HP:0001263"),
    _hp("HP:0012736", "Global developmental delay, profound", parent="HP:0001263"),
    _hp("HP:0002630", "Fat malabsorption"),
    _hp("HP:0000598", "Abnormality of the ear"),
    _hp("HP:0010511", "Long toe"),
    _hp("HP:0000077", "Abnormality of the kidney"),
    _hp("HP:0012210", "Abnormal renal morphology", parent="HP:0000077"),
]


def dictionary_of(concepts: list[Concept]) -> MentionDictionary:
    return MentionDictionary.from_kb(KnowledgeBase(concepts), ConceptFilter(), prefer_sources=("HP",))


@pytest.fixture(scope="module")
def dictionary() -> MentionDictionary:
    return dictionary_of(CONCEPTS)


@pytest.fixture(scope="module")
def nlp():
    pipeline = spacy.blank("en")
    pipeline.add_pipe("clinlink_segmenter")
    return pipeline


def detect(nlp, dictionary, text, **options):
    doc = nlp(text)
    found = []
    for sentence in doc.sents:
        words = doc_words(sentence)
        for match in find_matches(words, dictionary, **options):
            span = doc[words[match.start].start_token : words[match.end - 1].token + 1]
            found.append((span.text, match.concept_ids[0], match.kind))
    return found


def test_root_key_ignores_word_form_order_and_link_words():
    assert root_key(["patellar", "dysplasia"]) == root_key(["dysplastic", "patella"])
    assert root_key(["joint", "are", "prominent"]) == root_key(["prominent", "joint"])
    assert root_key(["dysplasia"]) is None  # one content word is the dictionary's business
    assert root_key(["joint", "are", "not", "prominent"]) is None  # negation changes what the phrase says


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The patient had patellar dysplasia.", ("patellar dysplasia", "HP:0006446", "derived")),
        ("Her interphalangeal joints are prominent.", ("interphalangeal joints are prominent", "HP:0006237", "derived")),
    ],
)
def test_derived_match_finds_names_in_other_forms(nlp, dictionary, text, expected):
    assert detect(nlp, dictionary, text) == [expected]
    assert detect(nlp, dictionary, text, derived=False) == []


@pytest.mark.parametrize(
    "text",
    [
        "Her interphalangeal joints are not prominent.",  # negated inside the window
        "Patellar, then dysplasia.",  # a comma parts the words
        "Patellar tendons and dysplasia of the hips.",  # too far apart, and "and" ends a window
        "She stubbed her toe for a long time.",  # an article starts another phrase
    ],
)
def test_derived_window_does_not_cross_negation_commas_or_coordination(nlp, dictionary, text):
    assert all(kind != "derived" for _, _, kind in detect(nlp, dictionary, text))


def test_derived_match_never_replaces_another_match(nlp, dictionary):
    assert detect(nlp, dictionary, "Malabsorption of fat.") == [("Malabsorption of fat", "HP:0002630", "order")]


def test_root_key_of_two_concepts_matches_neither(nlp):
    twins = CONCEPTS + [_hp("HP:0009999", "Patella dysplastic")]
    assert detect(nlp, dictionary_of(twins), "The patient had patellar dysplasia.") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("He has severe developmental delay.", ("severe developmental delay", "HP:0011344", "exact")),
        ("He has profound developmental delay.", ("profound developmental delay", "HP:0012736", "exact")),
        ("He has mild developmental delay.", ("developmental delay", "HP:0001263", "exact")),  # no such child
    ],
)
def test_qualifier_before_a_match_reaches_the_child_it_names(nlp, dictionary, text, expected):
    assert detect(nlp, dictionary, text) == [expected]


def test_malformation_names_the_morphology_concept(nlp, dictionary):
    assert detect(nlp, dictionary, "Renal malformations were seen.") == [("Renal malformations", "HP:0012210", "exact")]


def test_classification_title_keeps_its_object():
    rules = load_variant_rules()
    assert "Pneumonia" in rules.variants("Pneumonia, unspecified organism")
    assert "Pain in" not in rules.variants("Pain in unspecified joint")
    assert "Edema of" not in rules.variants("Edema of unspecified orbit")
    assert "Hemangioma" in rules.variants("Hemangioma unspecified site")
    # a title's inner "unspecified" is part of it: no one-word "Displaced" name for "the mass displaces the cava"
    assert rules.variants("Displaced unspecified fracture of right great toe") == ["Displaced unspecified fracture of right great toe"]
