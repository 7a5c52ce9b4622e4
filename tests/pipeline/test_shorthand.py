"""Clinical shorthand, misspellings and radiology wording through the shipped pipelines, with the codes a
clinician expects in ICD-10-CM and HPO and the assertion of each mention. Sentences written for this test."""

from __future__ import annotations

import pytest

import clinlink

pytestmark = pytest.mark.slow

# sentence -> [(mention text, ICD-10-CM code prefix or None, HPO id or None, assertion), ...]
# A code prefix "R06.0" accepts any code under it; None leaves that vocabulary unchecked.
CLINICAL = {
    "Pt c/o SOB and CP. Hx of CHF, HTN, DM2.": [
        ("SOB", "R06.0", "HP:0002094", "present"), ("CP", "R07.9", "HP:0100749", "present"),
        ("CHF", "I50.9", "HP:0001635", "present"), ("HTN", "I10", "HP:0000822", "present"),
        ("DM2", "E11.9", "HP:0005978", "present"),
    ],
    "62 yo M with htn, hld and t2dm presents with chest pain.": [
        ("htn", "I10", "HP:0000822", "present"), ("hld", "E78.5", "HP:0003077", "present"),
        ("t2dm", "E11.9", "HP:0005978", "present"), ("chest pain", "R07.9", "HP:0100749", "present"),
    ],
    "s/p MI in 2015, now with new onset AFib.": [("MI", "I25.2", "HP:0001658", "present"), ("AFib", "I48", "HP:0005110", "present")],
    "History of CAD and COPD on home oxygen.": [("CAD", "I25.10", "HP:0001677", "present"), ("COPD", "J44.9", None, "present")],
    "Admitted for UTI and AKI on CKD stage 3.": [
        ("UTI", "N39.0", None, "present"), ("AKI", "N17.9", "HP:0001919", "present"), ("CKD", "N18", "HP:0012622", "present"),
    ],
    "PMH: GERD, OSA on CPAP, BPH.": [
        ("GERD", "K21.9", "HP:0002020", "present"), ("OSA", "G47.33", "HP:0002870", "present"), ("BPH", "N40", "HP:0008711", "present"),
    ],
    "CTA chest positive for PE; started on heparin.": [("PE", "I26", "HP:0002204", "present")],
    "Known RA on methotrexate with joint swelling.": [("RA", "M06.9", "HP:0001370", "present"), ("joint swelling", None, "HP:0001386", "present")],
    "MS diagnosed in 2010, relapsing-remitting course on MRI.": [("MS", "G35", None, "present")],
    "Child with spastic CP and developmental delay.": [("CP", "G80", "HP:0100021", "present")],
    "Recent URI with cough.": [("URI", "J06.9", None, "present"), ("cough", "R05", "HP:0012735", "present")],
    "Nasal congestion and sneezing.": [("Nasal congestion", "R09.81", "HP:0001742", "present")],
    "CVA with residual left hemiparesis.": [("CVA", "I63.9", "HP:0001297", "present"), ("hemiparesis", None, "HP:0001269", "present")],
    "Denies CP, SOB or N/V.": [("CP", "R07.9", "HP:0100749", "absent"), ("SOB", "R06.0", "HP:0002094", "absent")],
    "ESRD on hemodialysis.": [("ESRD", "N18.6", "HP:0003774", "present")],
    "Hx of DVT, on warfarin.": [("DVT", "I82.4", "HP:0002625", "present")],
    "Episode of BRBPR yesterday.": [("BRBPR", None, "HP:0002573", "present")],
    "Severe LBP radiating to the leg.": [("LBP", "M54.5", "HP:0003419", "present")],
    "Pt with T1DM since childhood.": [("T1DM", "E10.9", "HP:0100651", "present")],
    "Presented with NSTEMI.": [("NSTEMI", "I21.4", None, "present")],
    "Admitted with ACS.": [("ACS", None, "HP:0033678", "present")],
    "Hx of TIA last year.": [("TIA", "G45.9", "HP:0002326", "present")],
    "She has IBS and GERD.": [("IBS", "K58", None, "present"), ("GERD", "K21.9", "HP:0002020", "present")],
    "Found to have an SBO on CT.": [("SBO", "K56", None, "present")],
    "Pt with UGIB, hemoglobin 7.": [("UGIB", "K92.2", None, "present")],
    "Reports HA with photophobia and nausea.": [("HA", "R51.9", "HP:0002315", "present"), ("nausea", "R11.0", "HP:0002018", "present")],
    "Chronic LBP, no red flags.": [("LBP", "M54.5", "HP:0003419", "present")],
    "Admitted with AMS and fever.": [("AMS", "R41.82", None, "present"), ("fever", "R50.9", "HP:0001945", "present")],
    "Hx of OA of both knees.": [("OA", "M19.9", "HP:0002758", "present")],
    "Pt has T2DM and CKD.": [("T2DM", "E11.22", "HP:0005978", "present"), ("CKD", "N18", "HP:0012622", "present")],
    "Type 2 diabetes with neuropathy.": [("Type 2 diabetes", "E11.40", "HP:0005978", "present")],
    "Patient denies SOB.": [("SOB", "R06.0", "HP:0002094", "absent")],
    "No CP at rest.": [("CP", "R07.9", "HP:0100749", "absent")],
    # spaCy keeps "V." as one token (a single letter and a period), so the mention is "N/V."
    "Pt c/o abd pain and N/V.": [("abd pain", "R10.9", "HP:0002027", "present"), ("N/V.", "R11.2", "HP:0002017", "present")],
    "DOE for two weeks.": [("DOE", None, "HP:0002875", "present")],
    "Afib with RVR.": [("Afib", "I48", "HP:0005110", "present")],
    "HTN, poorly controlled.": [("HTN", "I10", "HP:0000822", "present")],
    "Father with CAD.": [("CAD", "I25.10", "HP:0001677", "family")],
    "Paroxysmal SVT on beta blockers.": [("SVT", "I47.1", "HP:0004755", "present")],
    "PNA treated with antibiotics.": [("PNA", "J18.9", "HP:0002090", "present")],
    "Chronic HCV infection.": [("HCV", "B19.2", None, "present")],
    "Obese female with OSA.": [("OSA", "G47.33", "HP:0002870", "present")],
    "AAA measuring 4 cm.": [("AAA", "I71.4", "HP:0005112", "present")],
    "LVH on echocardiogram.": [("LVH", None, "HP:0001712", "present")],
    "Known HFrEF, EF 25%.": [("HFrEF", "I50.2", None, "present")],
    # misspellings and British spellings
    "The patient has pnuemonia.": [("pnuemonia", "J18.9", "HP:0002090", "present")],
    "History of hypertention.": [("hypertention", "I10", "HP:0000822", "present")],
    "Patient with astma exacerbation.": [("astma", "J45", "HP:0002099", "present")],
    "Worsening dyspnoea and oedema.": [("dyspnoea", "R06.0", "HP:0002094", "present"), ("oedema", "R60.9", "HP:0000969", "present")],
    "History of hyperlipidaemia and anaemia.": [("hyperlipidaemia", "E78.5", "HP:0003077", "present"), ("anaemia", "D64.9", "HP:0001903", "present")],
    "Vomitting and diarrhoea since yesterday.": [("Vomitting", "R11.1", "HP:0002013", "present"), ("diarrhoea", "R19.7", "HP:0002014", "present")],
    "Pt has diarhea and nausia.": [("diarhea", "R19.7", "HP:0002014", "present"), ("nausia", "R11.0", "HP:0002018", "present")],
    "Denies dysuira; some anorexa.": [("dysuira", "R30.0", "HP:0100518", "absent"), ("anorexa", "R63.0", "HP:0002039", "present")],
    # a cancer's site, in the mention or attached to it
    "Biopsy: carcinoma of the left kidney.": [("carcinoma", "C64.2", None, "present")],
    "Known gastric adenocarcinoma.": [("gastric adenocarcinoma", "C16.9", None, "present")],
    "CT: liver metastases.": [("metastases", "C78.7", None, "present")],
    "Examination revealed axillary adenopathies.": [("adenopathies", "R59.0", "HP:0002716", "present")],
    "CT showed a left renal tumor.": [("renal tumor", "D49.512", None, "present")],
    # ICD-10-CM Index lead terms and heads: "Febrile (fever) R50.9", "Anemia, normocytic D64.9"
    "The patient was febrile.": [("febrile", "R50.9", None, "present")],
    "He is an ex-smoker.": [("ex-smoker", "Z87.891", None, "present")],
    "She was admitted after a polytrauma.": [("polytrauma", "T07", None, "present")],
    "CMV serology was positive.": [("CMV", "B25.9", None, "present")],
    "Tests showed normocytic anemia.": [("normocytic anemia", "D64.9", "HP:0001897", "present")],
    "Lower limb edema.": [("Lower limb edema", "R60.9", None, "present")],
    # plain wording, specific codes
    "Right knee pain for a month.": [("Right knee pain", "M25.561", None, "present")],
    "Urinary tract infection treated with antibiotics.": [("Urinary tract infection", "N39.0", None, "present")],
    "Fever and chills for three days.": [("Fever", "R50.9", "HP:0001945", "present"), ("chills", "R68.83", "HP:0025143", "present")],
    "Gross hematuria.": [("Gross hematuria", "R31.0", "HP:0012587", "present")],
    "Iron deficiency anemia.": [("Iron deficiency anemia", "D50.9", "HP:0001891", "present")],
    "Mother had breast cancer.": [("breast cancer", None, "HP:0003002", "family")],
    "No evidence of pneumonia.": [("pneumonia", "J18.9", "HP:0002090", "absent")],
    "Rule out appendicitis.": [("appendicitis", "K37", "HP:6000143", "possible")],
    "Active smoker, 20 cigarettes a day.": [("smoker", "F17.210", None, "present")],
    "Thrombopenia and adenomegaly on admission.": [("Thrombopenia", "D69.6", None, "present"), ("adenomegaly", "R59.9", None, "present")],
    "Methicillin-resistant Staphylococcus aureus was isolated.": [("Methicillin-resistant Staphylococcus aureus", "B95.62", None, "present")],
    "History of diabetes; gestational diabetes in 2010.": [("diabetes", "E11.9", None, "present"), ("gestational diabetes", "O24.4", None, "present")],
    "Endoscopy: hyperemia of the gastric mucosa.": [("hyperemia", "R68.89", None, "present")],
    "He is a smoker with a history of enolism.": [("smoker", "F17.200", None, "present"), ("enolism", "F10.20", None, "present")],
    # status codes and the translated "-algia" words of case reports: the Alphabetic Index's readings
    "Type 2 diabetes treated with metformin.": [("Type 2 diabetes", "E11.9", None, "present"), ("metformin", "Z79.84", None, "present")],
    "Urinary urgency and dysuria for a week.": [("Urinary urgency", "R39.15", "HP:0000012", "present"), ("dysuria", "R30.0", None, "present")],
    "Right omalgia and left gonalgia since the fall.": [("omalgia", "M25.511", None, "present"), ("gonalgia", "M25.562", None, "present")],
    "She has had lumbalgia for two weeks.": [("lumbalgia", "M54.50", None, "present")],
    "Aortic valve replaced with a mechanical valve; allergic to penicillin.": [("mechanical valve", "Z95.2", None, "present"), ("allergic to penicillin", "Z88.0", None, "present")],
    "Rectal tenesmus and irritability; horseshoe kidney on CT.": [("tenesmus", "R19.8", None, "present"), ("irritability", "R45.4", None, "present"), ("horseshoe kidney", "Q63.1", None, "present")],
    "After a fall at home, a fall in hemoglobin was noted.": [("a fall", "W19", None, "present")],
    "Consumer of cocaine since the age of 20.": [("cocaine", "F14.10", None, "present")],
    "Dry eye, intermittent fever and severe aortic valve stenosis.": [("Dry eye", "H04.12", None, "present"), ("intermittent fever", "R50.9", None, "present"), ("aortic valve stenosis", "I35.0", None, "present")],
    "Labs showed hypernatremia and hypoproteinemia; dry skin.": [("hypernatremia", "E87.0", None, "present"), ("hypoproteinemia", "E88.09", None, "present"), ("dry skin", "L85.3", None, "present")],
}
# short forms whose context gives no clinical sense are no mention
NO_MENTION = ["PE: lungs clear, heart regular.", "Sats 95% on RA.", "Vitals: HR 80, RR 16, on RA.", "Labs are pending."]


@pytest.fixture(scope="module")
def clinical(default_kb):
    return clinlink.load("clinical")


def icd(span) -> str | None:
    entries = (span._.codes or {}).get("ICD10CM") or []
    return entries[0][0] if entries and entries[0][2] is not None else None


def hpo(span) -> str | None:
    entries = (span._.codes or {}).get("HPO") or []
    return entries[0][0] if entries and entries[0][2] is not None else None


def test_there_are_sixty_sentences():
    assert len(CLINICAL) + len(NO_MENTION) + len(RADIOLOGY) >= 60


@pytest.mark.parametrize("sentence", list(CLINICAL))
def test_shorthand_sentence(clinical, sentence):
    doc = clinical(sentence)
    found = {ent.text: ent for ent in doc.ents}
    for text, icd_prefix, hpo_id, assertion in CLINICAL[sentence]:
        assert text in found, f"{text!r} not found in {sentence!r}: {list(found)}"
        span = found[text]
        if icd_prefix is not None:
            assert (icd(span) or "").startswith(icd_prefix), f"{text!r}: ICD-10-CM {icd(span)}, expected {icd_prefix}"
        if hpo_id is not None:
            assert hpo(span) == hpo_id, f"{text!r}: HPO {hpo(span)}, expected {hpo_id}"
        assert span._.assertion == assertion


def test_acceptance_sentence_gives_exactly_five_mentions(clinical):
    doc = clinical("Pt c/o SOB and CP. Hx of CHF, HTN, DM2.")
    assert [ent.text for ent in doc.ents] == ["SOB", "CP", "CHF", "HTN", "DM2"]
    assert [entry["code"] for entry in doc._.codes["ICD10CM"]][:5] and len(doc._.codes["ICD10CM"]) == 5


@pytest.mark.parametrize("sentence", NO_MENTION)
def test_short_form_without_its_context_is_no_mention(clinical, sentence):
    assert [ent.text for ent in clinical(sentence).ents if ent.text in ("PE", "RA")] == []


RADIOLOGY = {
    "FINDINGS: Small left effusion. No pneumothorax.": [("effusion", "J90", "HP:0002202", "present"), ("pneumothorax", "J93.9", "HP:0002107", "absent")],
    "Small bilateral effusions with bibasilar atelectasis.": [("effusions", "J90", "HP:0002202", "present"), ("atelectasis", "J98.11", "HP:0100750", "present")],
    "IMPRESSION: No effusion.": [("effusion", "J90", "HP:0002202", "absent")],
    "Right lower lobe pneumonia, possible effusion.": [("pneumonia", "J18.9", "HP:0002090", "present"), ("effusion", "J90", "HP:0002202", "possible")],
}


@pytest.mark.parametrize("sentence", list(RADIOLOGY))
def test_radiology_wording_in_a_chest_report(default_kb, sentence):
    doc = clinlink.load("radiology")(sentence)
    found = {ent.text: ent for ent in doc.ents}
    for text, icd_prefix, hpo_id, assertion in RADIOLOGY[sentence]:
        span = found[text]
        assert icd_prefix is None or (icd(span) or "").startswith(icd_prefix)
        assert hpo(span) == hpo_id and span._.assertion == assertion


def test_effusion_in_a_note_without_chest_words_is_not_read_as_pleural(default_kb):
    doc = clinlink.load("clinical")("Knee swollen with a small effusion after the fall.")
    assert all(hpo(ent) != "HP:0002202" for ent in doc.ents)
    chest = clinlink.load("clinical")("Chest x-ray: small left effusion.")
    assert [hpo(ent) for ent in chest.ents if ent.text == "effusion"] == ["HP:0002202"]


def test_users_add_their_own_short_forms_and_names(default_kb, tmp_path):
    lexicon = tmp_path / "shorthand.yaml"
    lexicon.write_text("PUD: {senses: [{expansion: peptic ulcer}]}\n", encoding="utf-8")
    names = tmp_path / "names.yaml"
    names.write_text("HP:0002094: [air hunger]\n", encoding="utf-8")
    nlp = clinlink.load("clinical", ner={"extra_shorthand": str(lexicon), "extra_names": str(names)})
    doc = nlp("Hx of PUD. Now with air hunger.")
    found = {ent.text: ent for ent in doc.ents}
    assert found["PUD"]._.expansion == "peptic ulcer" and icd(found["PUD"]).startswith("K27")
    assert found["air hunger"]._.concept_id == "HP:0002094"


def test_a_sense_keeps_to_the_concepts_of_its_pipeline(default_kb):
    text = "Hx of HIV and infection. STEMI last year. Pt c/o SOB."
    phenotype = clinlink.load("phenotype", exclude=("linker",))(text)
    assert [(ent.text, ent._.concept_id) for ent in phenotype.ents] == [("SOB", "HP:0002094")]  # HPO's subtree only
    clinical = clinlink.load("clinical", exclude=("linker",))(text)
    assert {ent.text: ent._.concept_id for ent in clinical.ents}["STEMI"] == "ICD10CM:I21.3"


@pytest.mark.parametrize(
    ("sentence", "organism", "code", "not_coded"),
    [
        ("Blood cultures grew Klebsiella pneumoniae.", "Klebsiella pneumoniae", "B96.1", "J18"),
        ("Urine culture positive for K. pneumoniae.", "K. pneumoniae", "B96.1", "J18"),
        ("Sputum culture grew Haemophilus influenzae.", "Haemophilus influenzae", "B96.3", "J11"),
        ("Streptococcus pneumoniae bacteremia.", "Streptococcus pneumoniae", "B95.3", "J18"),
        ("Enterobacter cloacae was isolated from the drain.", None, None, "Q43"),
        ("Urine culture grew E. cloacae.", None, None, "Q43"),
        ("Neisseria meningitidis was isolated.", None, None, "G03"),
    ],
)
def test_an_organism_is_coded_as_the_cause_not_as_the_disease_its_species_name_reads_as(clinical, sentence, organism, code, not_coded):
    doc = clinical(sentence)
    codes = [entry["code"] for entry in doc._.codes["ICD10CM"]] if doc._.codes else []
    assert not [c for c in codes if c.startswith(not_coded)], f"{sentence!r}: {codes}"
    if organism is not None:
        found = {ent.text: ent for ent in doc.ents}
        assert organism in found, f"{organism!r} not found in {sentence!r}: {list(found)}"
        assert icd(found[organism]) == code


def test_hardware_and_anatomy_are_no_finding(clinical):
    doc = clinical("The left femur fracture was fixed with pins. He wears an orthosis. The aortic arch was normal.")
    assert [ent.text for ent in doc.ents] == ["femur fracture"]
    assert not [entry for entry in (doc._.codes or {}).get("ICD10CM", []) if entry["code"].startswith("N42")]
