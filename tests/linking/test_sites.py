"""The site of a cancer or a fracture, read in the mention or the words around it. Sentences written for this test."""

from __future__ import annotations

import pytest

import clinlink
from clinlink.linking.sites import site_query


@pytest.mark.parametrize(
    ("mention", "context", "query"),
    [
        ("gastric adenocarcinoma", None, "malignant neoplasm of stomach"),
        ("carcinoma", "Biopsy showed a carcinoma of the left renal pelvis.", "malignant neoplasm of renal pelvis"),
        ("Prostate cancer", "Prostate cancer, Gleason 7.", "malignant neoplasm of prostate"),
        ("adenocarcinoma", "A prostate adenocarcinoma was found.", "malignant neoplasm of prostate"),
        ("metastases", "There were metastases in the liver.", "secondary malignant neoplasm of liver"),
        ("leiomyosarcoma", "A leiomyosarcoma of the retroperitoneum was resected.", "malignant neoplasm of retroperitoneum"),
        ("fracture", "Left rib fracture after a fall.", "fracture of rib"),
        ("fracture", "She had a fracture of the right femur.", "fracture of femur"),
        ("tumor", "A tumor of the bladder was resected.", "neoplasm of unspecified behavior of bladder"),
        ("testicular tumor", None, "neoplasm of unspecified behavior of other genitourinary organ"),
        ("gastric neoplasia", None, "neoplasm of unspecified behavior of digestive system"),
        ("adenopathies", "Examination revealed axillary adenopathies.", "localized enlarged lymph nodes"),
        ("lymphadenopathy", "Generalized lymphadenopathy.", "generalized enlarged lymph nodes"),
        ("adenopathies", "Adenopathies in the neck.", "localized enlarged lymph nodes"),
        ("fracture", "Fracture of the axis.", "fracture of second cervical vertebra"),
        ("pain", "He reported pain in the right iliac fossa.", "lower quadrant pain"),
        ("pain", "She had lumbar pain for two weeks.", "low back pain"),
        ("Neck pain", None, "cervicalgia"),
        ("Abdominal pain", "Abdominal pain in the left hypochondrium.", "upper quadrant pain"),
    ],
)
def test_a_site_gives_the_title_to_retrieve(mention, context, query):
    assert site_query(mention, context).text == query


@pytest.mark.parametrize(
    ("mention", "context"),
    [
        ("carcinoma", "A carcinoma was found; the kidney was normal."),  # the site is not attached to it
        ("renal cyst", None),  # no head that needs a site
        ("carcinoma", "Carcinoma of unknown primary."),
        ("pathological fracture", "A pathological fracture of the femur."),  # not a traumatic fracture
        ("benign tumor of the kidney", None),  # benign: D30, not a neoplasm of unspecified behavior
        ("pain", "He has pain since the fall."),  # pain without a site stays R52
        ("pain relief", "Pain relief in the right knee."),  # not a pain mention
    ],
)
def test_no_query_without_a_head_and_its_site(mention, context):
    assert site_query(mention, context) is None


def test_a_candidate_must_name_that_condition_of_that_site_in_its_chapter():
    query = site_query("bladder carcinoma", None)
    assert query.accepts("C67.9", "Malignant neoplasm of bladder, unspecified")
    assert not query.accepts("D30.3", "Benign neoplasm of bladder")
    assert not query.accepts("C79.11", "Secondary malignant neoplasm of bladder")
    assert not query.accepts("C23", "Malignant neoplasm of gallbladder")
    fracture = site_query("fracture", "Left rib fracture.")
    assert fracture.accepts("S22.32", "Fracture of one rib, left side")
    assert not fracture.accepts("M84.48", "Pathological fracture, other site")
    pain = site_query("pain", "Pain in the left knee.")
    assert pain.accepts("M25.562", "Pain in left knee")
    assert not pain.accepts("M25.461", "Effusion, right knee")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sentence", "code"),
    [
        ("He reported pain in the right iliac fossa.", "R10.31"),
        ("Abdominal pain in the left iliac fossa.", "R10.32"),
        ("She had lumbar pain for two weeks.", "M54.50"),
        ("Pain in the left lower limb.", "M79.605"),
        ("He had pain in the right knee and a left rib fracture.", "M25.561"),
        ("He has pain since the fall.", "R52"),
    ],
)
def test_the_clinical_pipeline_codes_a_pain_by_its_site_and_side(default_kb, sentence, code):
    doc = clinlink.load("clinical")(sentence)
    pains = [span._.codes["ICD10CM"][0][0] for span in doc.ents if "pain" in span.text.lower()]
    assert pains == [code]


@pytest.mark.slow
def test_the_clinical_pipeline_codes_the_site_and_side(default_kb):
    nlp = clinlink.load("clinical")
    doc = nlp("Biopsy showed carcinoma of the left kidney. He also had a gastric adenocarcinoma. Left rib fracture.")
    codes = {span.text: span._.codes["ICD10CM"][0][0] for span in doc.ents if span._.codes and "ICD10CM" in span._.codes}
    assert codes["carcinoma"] == "C64.2"
    assert codes["gastric adenocarcinoma"] == "C16.9"
    assert codes["fracture"].startswith("S22.3")


@pytest.mark.slow
def test_a_tumor_is_coded_by_its_body_system_and_side(default_kb):
    doc = clinlink.load("clinical")("CT showed a left renal tumor.")
    assert [entry["code"] for entry in doc._.codes["ICD10CM"]] == ["D49.512"]


def test_a_mention_said_twice_reads_the_site_at_its_own_position():
    context = "CT showed liver metastases and bone metastases."
    second = context.rindex("metastases")
    assert site_query("metastases", context, (second, second + len("metastases"))).text == "secondary malignant neoplasm of bone"
    assert site_query("metastases", context).text == "secondary malignant neoplasm of liver"  # no position: the first occurrence


@pytest.mark.slow
def test_metastases_are_mentions_coded_at_their_sites(default_kb):
    doc = clinlink.load("clinical")("CT showed liver metastases and bone metastases. Areas of necrosis were seen.")
    codes = [entry["code"] for entry in doc._.codes["ICD10CM"]]
    assert {"C78.7", "C79.51", "I96"} <= set(codes)


@pytest.mark.slow
def test_a_bone_named_under_a_fracture_code_is_no_mention_alone(default_kb):
    nlp = clinlink.load("clinical")
    assert [entry["code"] for entry in nlp("Fracture of the axis.")._.codes["ICD10CM"]] == ["S12.10"]
    assert nlp("The short axis of the mass measured 3 cm.")._.codes is None


@pytest.mark.parametrize(
    ("mention", "context", "code"),
    [
        ("mass", "CT showed a mass in the left kidney.", "N28.89"),
        ("mass", "A lung mass was seen.", "R91.8"),
        ("pelvic mass", None, "R19.00"),
        ("lump", "A lump in the right breast.", "N63"),
        ("masses", "Two masses of the pancreas.", "K86.9"),
    ],
)
def test_a_mass_takes_the_code_the_index_gives_its_site(mention, context, code):
    assert site_query(mention, context).code == code


def test_a_mass_without_a_site_has_no_query_and_other_kinds_retrieve():
    assert site_query("mass", "A mass was seen in the scan.") is None
    assert site_query("carcinoma", "Carcinoma of the bladder.").code is None


@pytest.mark.slow
def test_the_clinical_pipeline_codes_a_mass_by_its_site_and_reads_no_mass_in_body_mass_index(default_kb):
    nlp = clinlink.load("clinical")
    assert [e["code"] for e in nlp("CT showed a mass in the left kidney.")._.codes["ICD10CM"]] == ["N28.89"]
    assert [e["code"] for e in nlp("A palpable mass in the right breast.")._.codes["ICD10CM"]] == ["N63.10"]
    assert not (nlp("A mass was seen on the scan.")._.codes or {}).get("ICD10CM")
    assert [span.text for span in nlp("Body mass index was 31 and muscle mass was low.").ents] == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "sentence",
    [
        "A chest drain was placed in the left hemithorax.",  # not a typo of hemothorax
        "The pupils were equal and reactive.",  # two pupils are no Polycoria
        "He used eye drops twice a day.",  # a lay synonym of Ptosis
        "Lactic acid was 4 mmol/l.",
        "Lymph node ganglion without tumor involvement.",  # translated "ganglio", not a ganglion cyst
    ],
)
def test_words_of_notes_that_name_no_finding_give_no_code(default_kb, sentence):
    doc = clinlink.load("clinical")(sentence)
    assert not (doc._.codes or {}).get("ICD10CM")
    assert not [span.text for span in doc.ents if span.text.lower() in {"hemithorax", "pupils", "eye drops", "lactic acid", "ganglion"}]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sentence", "codes"),
    [
        ("Biopsy showed adenocarcinoma of the prostate.", ["C61"]),
        ("A seminoma of the left testis.", ["C62.92"]),
        ("CT: a right adrenal adenoma.", ["D35.01"]),
        ("He had lithiasis in the right kidney.", ["N20.0"]),
        ("Intermittent vaginal bleeding for two months.", ["N93.9"]),
        ("Small intraretinal hemorrhages in the left eye.", ["H35.62"]),
        ("Adenocarcinoma was found.", []),  # no site: the Index sends a coder to the site, which the note must give
    ],
)
def test_index_lead_terms_and_bleedings_are_coded_by_their_site(default_kb, sentence, codes):
    doc = clinlink.load("clinical")(sentence)
    assert [entry["code"] for entry in (doc._.codes or {}).get("ICD10CM", [])] == codes


def test_site_tables_are_read_once():
    from clinlink.linking.sites import site_sections, site_words

    assert site_words("organs") is site_words("organs")  # the linker reads them for every mention
    assert "organs" in site_sections() and site_sections() is site_sections()
