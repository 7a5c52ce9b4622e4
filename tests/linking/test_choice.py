"""The final concept and the ICD-10-CM code a coder would accept: specific, sided, combined (synthetic KB)."""

from __future__ import annotations

import pytest

import clinlink
from clinlink.kb import Concept, KnowledgeBase
from clinlink.linking.candidates import Candidate
from clinlink.linking.choice import both_sides, choose, combination_icd, side_context, specific_icd, vocabulary_key


def icd(code: str, name: str, parent: str | None = None, indexed: bool = True) -> Concept:
    return Concept(
        id=f"ICD10CM:{code}", source="ICD10CM", name=name, parents=[f"ICD10CM:{parent}"] if parent else [],
        group="DISO", indexed=indexed,
    )


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase([
        icd("R31", "Hematuria"),
        icd("R31.0", "Gross hematuria", "R31"),
        icd("R31.9", "Hematuria, unspecified", "R31"),
        icd("E11", "Type 2 diabetes mellitus"),
        icd("E11.4", "Type 2 diabetes mellitus with neurological complications", "E11"),
        icd("E11.40", "Type 2 diabetes mellitus with diabetic neuropathy, unspecified", "E11.4"),
        icd("E11.41", "Type 2 diabetes mellitus with diabetic mononeuropathy", "E11.4"),
        icd("E11.9", "Type 2 diabetes mellitus without complications", "E11"),
        icd("S22.3", "Fracture of one rib"),
        icd("S22.31", "Fracture of one rib, right side", "S22.3"),
        icd("S22.32", "Fracture of one rib, left side", "S22.3"),
        icd("S22.32XA", "Fracture of one rib, left side, initial encounter for closed fracture", "S22.32", indexed=False),
        icd("S22.39", "Fracture of one rib, unspecified side", "S22.3"),
        icd("I10", "Essential (primary) hypertension"),
        Concept(id="HP:0000790", source="HP", name="Hematuria", group="DISO"),
    ])


def test_category_becomes_its_unspecified_leaf(kb):
    assert specific_icd(kb, "ICD10CM:R31") == "ICD10CM:R31.9"
    assert specific_icd(kb, "ICD10CM:R31.0") == "ICD10CM:R31.0"  # already a leaf
    assert specific_icd(kb, "ICD10CM:I10") == "ICD10CM:I10"


def test_diabetes_without_more_is_without_complications(kb):
    assert specific_icd(kb, "ICD10CM:E11") == "ICD10CM:E11.9"


@pytest.mark.slow
def test_abuse_and_dependence_without_more_are_uncomplicated(default_kb):
    assert specific_icd(default_kb, "ICD10CM:F10.1") == "ICD10CM:F10.10"  # not F10.19 "with unspecified alcohol-induced disorder"
    assert specific_icd(default_kb, "ICD10CM:F17.21") == "ICD10CM:F17.210"


@pytest.mark.parametrize(
    ("category", "default"),
    [
        ("ICD10CM:G43.9", "ICD10CM:G43.909"),  # Index: Migraine G43.909 (not intractable, without status migrainosus)
        ("ICD10CM:C95.9", "ICD10CM:C95.90"),  # not having achieved remission
        ("ICD10CM:K46", "ICD10CM:K46.9"),  # without obstruction or gangrene, not "with obstruction, without gangrene"
        ("ICD10CM:N40", "ICD10CM:N40.0"),  # the parent's title "without ...", not "Nodular prostate without ..."
        ("ICD10CM:K40.9", "ICD10CM:K40.90"),  # not specified as recurrent
        ("ICD10CM:K40", "ICD10CM:K40.90"),  # one side is the default: "Hernia, inguinal K40.90"
    ],
)
def test_the_index_defaults_where_a_title_does_not_say(default_kb, category, default):
    assert specific_icd(default_kb, category) == default


def test_a_bilateral_mention_takes_the_bilateral_default(default_kb):
    assert specific_icd(default_kb, "ICD10CM:K40", "Bilateral inguinal hernia.") == "ICD10CM:K40.20"
    assert specific_icd(default_kb, "ICD10CM:K40", "Right inguinal hernia.") == "ICD10CM:K40.90"


@pytest.mark.parametrize(
    ("code", "context", "sides"),
    [
        ("ICD10CM:M79.606", "pain in both lower limbs", ("ICD10CM:M79.604", "ICD10CM:M79.605")),
        ("ICD10CM:C78.00", "metastases in both lungs", ("ICD10CM:C78.01", "ICD10CM:C78.02")),  # "unspecified lung"
        ("ICD10CM:M25.569", "bilateral knee pain", ("ICD10CM:M25.561", "ICD10CM:M25.562")),
        ("ICD10CM:M79.606", "pain in the leg", None),  # no side said
        ("ICD10CM:M79.604", "pain in both legs", None),  # a code with its side already
        ("ICD10CM:K40.20", "bilateral inguinal hernia", None),  # ICD-10-CM has the bilateral code
        ("ICD10CM:R31.9", "bilateral hematuria", None),  # no sided siblings
    ],
)
def test_a_finding_on_both_sides_without_a_bilateral_code_is_coded_on_each(default_kb, code, context, sides):
    assert both_sides(default_kb, code, context) == sides


@pytest.mark.slow
def test_the_pipeline_codes_both_sides_and_the_document_keeps_both(default_kb):
    doc = clinlink.load("clinical")("She has had pain in both lower limbs for a week. No pain in the arms.")
    pain = next(span for span in doc.ents if span._.assertion == "present")
    assert [entry[0] for entry in pain._.codes["ICD10CM"] if entry[2] is not None] == ["M79.604", "M79.605"]
    assert [entry["code"] for entry in doc._.codes["ICD10CM"]] == ["M79.604", "M79.605"]
    doc = clinlink.load("clinical")("CT showed metastases in both lungs.")  # a plural site read as its singular
    assert [entry["code"] for entry in doc._.codes["ICD10CM"]] == ["C78.01", "C78.02"]


def test_stated_side_is_followed_and_seventh_characters_are_not_entered(kb):
    assert specific_icd(kb, "ICD10CM:S22.3", side_context("Left rib fracture", "Left rib fracture.")) == "ICD10CM:S22.32"
    assert specific_icd(kb, "ICD10CM:S22.3", side_context("rib fracture", "Rib fracture on the right.")) == "ICD10CM:S22.31"
    assert specific_icd(kb, "ICD10CM:S22.3", "rib fracture") == "ICD10CM:S22.39"
    # both sides in the sentence and none in the mention: the side is not stated for this mention
    assert specific_icd(kb, "ICD10CM:S22.3", side_context("rib fracture", "Left rib fracture and right knee pain.")) == "ICD10CM:S22.39"
    sentence = "Left rib fracture and right knee pain."  # two sides: the mention's own words decide where its position is known
    assert side_context("rib fracture", sentence, (5, 17)) == "left rib fracture"
    assert specific_icd(kb, "ICD10CM:S22.3", side_context("rib fracture", sentence, (5, 17))) == "ICD10CM:S22.32"
    assert side_context("fracture", "A fracture of the right femur and left knee pain.", (2, 10)) == "a fracture of the right femur"


def test_combination_code_needs_the_other_part_in_the_sentence(kb):
    assert combination_icd(kb, "ICD10CM:E11", ["neuropathy", "Peripheral neuropathy"]) == "ICD10CM:E11.40"
    assert combination_icd(kb, "ICD10CM:E11", ["hypertension"]) is None
    assert combination_icd(kb, "ICD10CM:E11", []) is None


def test_detector_concept_stands_unless_the_linker_is_sure(kb):
    exact_other = [Candidate("ICD10CM:R31.0", "Gross hematuria", 1.0, exact=True)]
    assert choose(kb, exact_other, "ICD10CM:R31", 1.0).concept_id == "ICD10CM:R31.0"
    near = [Candidate("ICD10CM:R31.0", "Gross hematuria", 0.95), Candidate("ICD10CM:R31", "Hematuria", 0.8)]
    assert choose(kb, near, "ICD10CM:R31", 1.0).concept_id == "ICD10CM:R31"  # a dictionary match stands
    assert choose(kb, near, "ICD10CM:R31", 0.9).concept_id == "ICD10CM:R31.0"  # a fuzzy one yields to a clear margin
    assert choose(kb, [], None) is None


def test_vocabulary_names_are_the_codes_keys():
    assert [vocabulary_key(v) for v in ("HP", "hpo", "ICD10CM", "snomedct")] == ["HPO", "HPO", "ICD10CM", "SNOMEDCT"]
