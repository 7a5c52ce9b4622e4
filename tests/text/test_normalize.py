"""Name normalization: inflection, British spellings and Latin plurals fold onto one key."""

from __future__ import annotations

import pytest

from clinlink.text.normalize import normalize, order_free_key, stem


@pytest.mark.parametrize(
    ("british", "american"),
    [
        ("Oedema of the legs", "edema of the legs"),
        ("Haemorrhage", "hemorrhage"),
        ("Iron deficiency anaemia", "iron deficiency anemia"),
        ("Oesophageal atresia", "esophageal atresia"),
        ("Foetal distress", "fetal distress"),
        ("Brain tumour", "brain tumor"),
        ("Coeliac disease", "celiac disease"),
        ("Chronic diarrhoea", "chronic diarrhea"),
        ("Paediatric onset", "pediatric onset"),
        ("Abnormal behaviour", "abnormal behavior"),
        ("Lymphoedema", "lymphedema"),
    ],
)
def test_british_spellings_fold_onto_american(british, american):
    assert normalize(british) == normalize(american)


@pytest.mark.parametrize(
    ("plural", "singular"),
    [
        ("nevi", "nevus"),
        ("naevi", "nevus"),
        ("bronchi", "bronchus"),
        ("nuclei", "nucleus"),
        ("lipomata", "lipoma"),
        ("exostoses", "exostosis"),
        ("epiphyses", "epiphysis"),
        ("stenoses", "stenosis"),
        ("vertebrae", "vertebra"),
        ("effusions", "effusion"),
    ],
)
def test_latin_and_english_plurals(plural, singular):
    assert stem(plural) == stem(singular)


@pytest.mark.parametrize(
    ("word", "expected"),
    [("toe", "toe"), ("toes", "toe"), ("hour", "hour"), ("four", "four"), ("doses", "dose"), ("anti", "anti"), ("mini", "mini"), ("there", "there")],
)
def test_ordinary_words_are_left_alone(word, expected):
    assert stem(word) == expected


def test_order_free_key_uses_the_same_folds():
    assert order_free_key("Oedema, pulmonary") == order_free_key("pulmonary edema")
