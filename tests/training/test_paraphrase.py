"""Paraphrases of KB names for training pairs. Names written for this test."""

from __future__ import annotations

import random

from clinlink.kb import Concept, Synonym
from clinlink.training.pairs import concept_pairs
from clinlink.training.paraphrase import paraphrases


def test_a_finding_is_said_of_its_subject():
    assert paraphrases("Enlarged heart") == ["heart is enlarged", "heart enlarged"]
    assert paraphrases("Absent thumbs") == ["thumbs are absent", "thumbs absent"]


def test_x_of_the_y_turns_around():
    assert paraphrases("Abnormality of the kidney") == ["kidney abnormality"]
    assert paraphrases("Cleft of the soft palate") == ["soft palate cleft"]


def test_names_no_rule_fits_have_none():
    assert paraphrases("Cardiomegaly") == []
    assert paraphrases("Fracture of the neck of the femur") == []  # two "of": no safe inversion


def test_paraphrases_join_a_concepts_pairs_only_when_asked():
    concept = Concept(id="HP:1", source="HP", name="Cardiomegaly", synonyms=[Synonym("Enlarged heart")])
    plain = concept_pairs(concept, 50, random.Random(0))
    assert [(p.first, p.second) for p in plain] == [("Cardiomegaly", "Enlarged heart")]
    augmented = {frozenset((p.first, p.second)) for p in concept_pairs(concept, 50, random.Random(0), paraphrase=True)}
    assert frozenset(("Cardiomegaly", "heart is enlarged")) in augmented and len(augmented) == 6
