"""The site of a malignant neoplasm, read in the mention or the words attached to it. Sentences written for this test."""

from __future__ import annotations

import pytest

import clinlink
from clinlink.linking.neoplasm_sites import neoplasm_query


@pytest.mark.parametrize(
    ("mention", "context", "query"),
    [
        ("gastric adenocarcinoma", None, "malignant neoplasm of stomach"),
        ("carcinoma", "Biopsy showed a carcinoma of the left renal pelvis.", "malignant neoplasm of renal pelvis"),
        ("Prostate cancer", "Prostate cancer, Gleason 7.", "malignant neoplasm of prostate"),
        ("metastases", "There were metastases in the liver.", "secondary malignant neoplasm of liver"),
        ("leiomyosarcoma", "A leiomyosarcoma of the retroperitoneum was resected.", "malignant neoplasm of retroperitoneum"),
    ],
)
def test_a_site_gives_the_title_to_retrieve(mention, context, query):
    assert neoplasm_query(mention, context).text == query


@pytest.mark.parametrize(
    ("mention", "context"),
    [
        ("carcinoma", "A carcinoma was found; the kidney was normal."),  # the site is not attached to it
        ("renal cyst", None),  # not a malignant head
        ("carcinoma", "Carcinoma of unknown primary."),
    ],
)
def test_no_query_without_a_malignant_head_and_its_site(mention, context):
    assert neoplasm_query(mention, context) is None


def test_a_candidate_must_name_that_neoplasm_of_that_site():
    query = neoplasm_query("bladder carcinoma", None)
    assert query.accepts("Malignant neoplasm of bladder, unspecified")
    assert not query.accepts("Benign neoplasm of bladder")
    assert not query.accepts("Secondary malignant neoplasm of bladder")
    assert not query.accepts("Malignant neoplasm of gallbladder")


@pytest.mark.slow
def test_the_clinical_pipeline_codes_the_site_and_side(default_kb):
    nlp = clinlink.load("clinical")
    doc = nlp("Biopsy showed carcinoma of the left kidney. He also had a gastric adenocarcinoma.")
    codes = {span.text: span._.codes["ICD10CM"][0][0] for span in doc.ents if span._.codes and "ICD10CM" in span._.codes}
    assert codes["carcinoma"] == "C64.2"
    assert codes["gastric adenocarcinoma"] == "C16.9"
