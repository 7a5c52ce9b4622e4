"""The plain-Python ConText core on synthetic sentences (no spaCy)."""

from __future__ import annotations


import pytest

from clinlink.assertion import ContextMatcher


@pytest.fixture(scope="module")
def matcher() -> ContextMatcher:
    return ContextMatcher()


def judge(matcher: ContextMatcher, text: str, target: str, occurrence: int = 0):
    """Assertion of the ``occurrence``-th appearance of ``target`` in ``text`` (one sentence)."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(target, start + 1)
    return matcher.assert_targets(text, [(start, start + len(target))], [(0, len(text))])[0]


@pytest.mark.parametrize(
    ("text", "target", "status"),
    [
        ("Patient denies chest pain.", "chest pain", "absent"),
        ("There is no pleural effusion.", "pleural effusion", "absent"),
        ("Abdomen soft, without guarding.", "guarding", "absent"),
        ("Negative for hematuria.", "hematuria", "absent"),
        ("Lungs are clear of crackles.", "crackles", "absent"),
        ("No evidence of deep vein thrombosis.", "deep vein thrombosis", "absent"),
        ("Possible early appendicitis.", "appendicitis", "possible"),
        ("Findings are suspicious for osteomyelitis.", "osteomyelitis", "possible"),
        ("A small pneumothorax cannot be excluded.", "pneumothorax", "possible"),
        ("Opacity may represent atelectasis.", "atelectasis", "possible"),
        ("Left lower lobe consolidation?", "consolidation", "possible"),
        ("Return to clinic if you develop a rash.", "rash", "hypothetical"),
        ("Watch for bleeding from the incision.", "bleeding", "hypothetical"),
        ("He is at risk for falls.", "falls", "hypothetical"),
        ("Wheezing brought on by cold air.", "Wheezing", "conditional"),
        ("Hives only when exposed to latex.", "Hives", "conditional"),
        ("Her mother had breast cancer.", "breast cancer", "family"),
        ("Family history of colon cancer.", "colon cancer", "family"),
        ("Diabetes in his father.", "Diabetes", "family"),
        ("The rash is itchy.", "rash", "present"),
    ],
)
def test_each_status(matcher, text, target, status):
    assert judge(matcher, text, target).status == status


@pytest.mark.parametrize(
    ("text", "target", "historical"),
    [
        ("History of myocardial infarction.", "myocardial infarction", True),
        ("She is s/p appendectomy.", "appendectomy", True),
        ("Status post cholecystectomy.", "cholecystectomy", True),
        ("He had measles in the past.", "measles", True),
        ("Known history of asthma, now presents with fever.", "fever", False),
        ("Three-day history of cough.", "cough", False),
        ("History of present illness: fever.", "fever", False),
        ("A 45-year-old with fever.", "fever", False),
        ("Effusion is larger than on the prior study.", "Effusion", False),
    ],
)
def test_historical(matcher, text, target, historical):
    assert judge(matcher, text, target).historical is historical


def test_list_after_negation_is_negated_throughout(matcher):
    text = "No fever, chills, night sweats, or cough."
    for target in ("fever", "chills", "night sweats", "cough"):
        assert judge(matcher, text, target).status == "absent", target


def test_backward_list(matcher):
    text = "Fever, chills and rigors were ruled out."
    assert [judge(matcher, text, t).status for t in ("Fever", "chills", "rigors")] == ["absent"] * 3


def test_termination_ends_negation(matcher):
    assert judge(matcher, "No fever but has cough.", "cough").status == "present"
    assert judge(matcher, "No fever but has cough.", "fever").status == "absent"
    assert judge(matcher, "Denies nausea, however reports vomiting.", "vomiting").status == "present"
    assert judge(matcher, "No masses except for a small cyst.", "cyst").status == "present"


def test_semicolon_and_header_colon_end_scope(matcher):
    assert judge(matcher, "No edema; mild ascites.", "ascites").status == "present"
    text = "Past medical history: none. Exam: Wheezing."
    assert judge(matcher, text, "Wheezing").historical is False
    # a lower-case word before the colon does not start a header
    assert judge(matcher, "Call if any of the following: fever or vomiting.", "vomiting").status == "hypothetical"


def test_cue_followed_by_its_own_colon_still_reaches(matcher):
    assert judge(matcher, "Negative for: dysuria, frequency.", "frequency").status == "absent"
    assert judge(matcher, "PAST MEDICAL HISTORY: Gout.", "Gout").historical is True


def test_enumerated_items_end_scope(matcher):
    text = "1) Esophagitis s/p dilation 2) Hiatal hernia"
    assert judge(matcher, text, "Hiatal hernia").historical is False


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("No change in the pleural effusion.", "pleural effusion"),
        ("No increase in the size of the nodule.", "nodule"),
        ("Gram negative rods in the sputum.", "rods"),
        ("Pneumonia not ruled out.", "Pneumonia"),
        ("Ambulates without difficulty, some knee pain.", "knee pain"),
    ],
)
def test_pseudo_cues_block_negation(matcher, text, target):
    assert judge(matcher, text, target).status != "absent"


def test_not_ruled_out_is_possible(matcher):
    assert judge(matcher, "Pneumonia not ruled out.", "Pneumonia").status == "possible"


def test_other_status_cue_cuts_scope_but_touching_cues_stack(matcher):
    assert judge(matcher, "Denies fever, possible pneumonia.", "pneumonia").status == "possible"
    # touching cues both apply; precedence puts absent over possible
    assert judge(matcher, "No evidence of possible abscess.", "abscess").status == "absent"
    # family outranks negation
    assert judge(matcher, "Mother denies any seizures.", "seizures").status == "family"


def test_family_scope_ends_at_the_patient(matcher):
    text = "Mother with lupus, patient has asthma."
    assert judge(matcher, text, "lupus").status == "family"
    assert judge(matcher, text, "asthma").status == "present"


def test_family_backward_scope_stays_in_its_clause(matcher):
    text = "Patient has asthma and his sister has eczema."
    assert judge(matcher, text, "asthma").status == "present"
    assert judge(matcher, text, "eczema").status == "family"


def test_relative_as_reporter_is_not_family(matcher):
    assert judge(matcher, "Per mother, fever since Tuesday.", "fever").status == "present"


def test_relative_the_adjective_is_not_family(matcher):
    assert judge(matcher, "The count showed relative lymphopenia.", "lymphopenia").status == "present"
    assert judge(matcher, "A relative with lymphopenia.", "lymphopenia").status == "family"


def test_the_patients_own_history_after_a_family_history_is_the_patients(matcher):
    text = "No family history of interest and personal history of hypertension."
    assert judge(matcher, text, "hypertension").status == "present"
    text = "No family history of sudden death or personal history of syncope."
    assert (judge(matcher, text, "sudden death").status, judge(matcher, text, "syncope").status) == ("family", "absent")


def test_cue_inside_the_mention_is_ignored(matcher):
    # "without" is part of the finding's name here
    text = "Hemiarthroplasty without loosening is seen."
    assert judge(matcher, text, "Hemiarthroplasty without loosening").status == "present"


def test_max_scope_limits_short_cues(matcher):
    # "non" reaches three tokens only
    text = "Non-tender abdomen with distension and guarding present."
    assert judge(matcher, text, "guarding").status == "present"
    assert judge(matcher, text, "tender").status == "absent"


def test_reported_cues_are_the_deciding_ones(matcher):
    text = "Denies fever. No history of stroke but possible seizure."
    start = text.index("stroke")
    stroke = matcher.assert_targets(text, [(start, start + 6)], [(0, 13), (14, len(text))])[0]
    assert stroke.status == "absent" and stroke.historical
    assert sorted((c.text, c.category) for c in stroke.cues) == [("no history of", "absent"), ("no history of", "historical")]
    assert text[stroke.cues[0].start:stroke.cues[0].end] == "No history of"
    seizure = judge(matcher, text, "seizure")
    assert [(c.text, c.category) for c in seizure.cues] == [("possible", "possible")]
    # the nearest cue of the deciding category is reported
    nearest = judge(matcher, "No evidence of effusion, no consolidation.", "consolidation")
    assert [c.start for c in nearest.cues] == [25]


def test_section_defaults(matcher):
    text = "Asthma. Gout. No diabetes."
    spans = [(0, 6), (8, 12), (17, 25)]
    sentences = [(0, 7), (8, 13), (14, len(text))]
    header = (0, 0, "family_history")
    results = matcher.assert_targets(text, spans, sentences, [header, (0, 0, "past_medical_history"), (0, 0, "past_medical_history")])
    assert results[0].status == "family" and results[0].cues[0].text == "family_history"
    assert results[1].status == "present" and results[1].historical
    assert results[2].status == "absent" and results[2].historical
    plain = matcher.assert_targets(text, spans, sentences, [(0, 0, "indication")] * 3)
    assert [r.status for r in plain] == ["present", "present", "absent"]
    assert not any(r.historical for r in plain)


def test_sentence_boundaries_limit_scope(matcher):
    text = "No fever. Cough for two days."
    start = text.index("Cough")
    assert matcher.assert_targets(text, [(start, start + 5)], [(0, 9), (10, len(text))])[0].status == "present"
    # without boundaries clinlink's sentence splitter is used
    assert matcher.assert_targets(text, [(start, start + 5)])[0].status == "present"
    assert matcher.assert_targets(text, [(3, 8)])[0].status == "absent"


def test_no_targets_and_empty_text(matcher):
    assert matcher.assert_targets("", []) == []
    assert matcher.assert_targets("No fever.", []) == []
    assert matcher.assert_targets("", [(0, 0)])[0].status == "present"


def test_find_cues_orders_and_suppresses(matcher):
    cues = matcher.find_cues("No change in the effusion, no new nodule, possible scarring.")
    assert [(c.text.lower(), c.category) for c in cues] == [("no", "absent"), ("possible", "possible")]


def test_unicode_and_control_characters(matcher):
    text = "Patient\u2019s mother \U0001F600 had\x00 cancer\u00e9; d\u00e9nies pain."
    start = text.index("cancer")
    assert matcher.assert_targets(text, [(start, start + 6)])[0].status == "family"
    # a lower-case form that changes length ("İ") keeps offsets right
    text = "İİ no fever"
    start = text.index("fever")
    result = matcher.assert_targets(text, [(start, start + 5)], [(0, len(text))])[0]
    assert result.status == "absent" and text[result.cues[0].start:result.cues[0].end] == "no"


def test_megabyte_sentence_without_punctuation(matcher):
    """A 1 MB run-on sentence completes (scopes are linear; speed itself is benchmarks/assertion.py's job)."""
    words = ("patient denies fever and chills with possible pneumonia and his sister had cancer " * 12500).split()
    text = " ".join(words)
    targets = []
    position = 0
    for word in words[:4000]:
        position = text.index(word, position)
        targets.append((position, position + len(word)))
        position += len(word)
    results = matcher.assert_targets(text, targets)
    assert len(results) == len(targets) and len(text) > 1_000_000
    assert {r.status for r in results} >= {"absent", "family", "possible"}


def test_core_does_not_import_spacy():
    import subprocess
    import sys

    code = "import sys, clinlink.assertion; print('spacy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("Basilar opacity may be due to aspiration.", "aspiration"),
        ("Considerations could include early pulmonary edema.", "pulmonary edema"),
        ("Hazy density could reflect a small effusion.", "effusion"),
        ("Widened mediastinum may indicate lymphadenopathy.", "lymphadenopathy"),
        ("Differential considerations include sarcoidosis and lymphoma.", "lymphoma"),
        ("The differential diagnosis includes tuberculosis.", "tuberculosis"),
        ("Superimposed infection is also possible.", "infection"),
        ("Correlate clinically for aspiration.", "aspiration"),
        ("Clinical correlation for bronchitis is advised.", "bronchitis"),
        ("Recommend CT to exclude an underlying mass.", "mass"),
        ("A tiny apical pneumothorax cannot be entirely excluded.", "pneumothorax"),
        ("Streaky opacity suggestive of scarring.", "scarring"),
        ("Right base opacity, atelectasis versus infiltrate.", "atelectasis"),
        ("Right base opacity, atelectasis versus infiltrate.", "infiltrate"),
        ("Scarring vs early bronchiectasis.", "bronchiectasis"),
        ("Increased markings, which can be seen in bronchitis.", "bronchitis"),
        ("Question whooping cough.", "whooping cough"),
        ("Infant being evaluated for urinary tract infection.", "urinary tract infection"),
        ("Rule-out pneumonia.", "pneumonia"),
        # alternatives: each one is uncertain
        ("Left basilar atelectasis or pneumonia.", "atelectasis"),
        ("Left basilar atelectasis or pneumonia.", "pneumonia"),
        ("Right middle lobe infiltrate and/or atelectasis.", "infiltrate"),
        ("Dense opacity, either atelectasis or early pneumonia.", "early pneumonia"),
    ],
)
def test_radiology_hedges_are_possible(matcher, text, target):
    assert judge(matcher, text, target).status == "possible"


@pytest.mark.parametrize(
    ("text", "target", "status"),
    [
        # alternatives and "consistent with" leave a negation's scope whole
        ("No pleural effusion or pneumothorax.", "pneumothorax", "absent"),
        ("No focal opacity or consolidation to suggest pneumonia.", "pneumonia", "absent"),
        ("No opacity to suggest pneumonia.", "pneumonia", "absent"),
        ("Denies fever or chills.", "chills", "absent"),
        ("Call if fever or chills develop.", "chills", "hypothetical"),
        # quantities and fixed phrases are no alternatives
        ("One or more small nodules.", "nodules", "present"),
        ("Effusion with or without atelectasis.", "atelectasis", "present"),
    ],
)
def test_alternatives_do_not_cut_other_scopes(matcher, text, target, status):
    assert judge(matcher, text, target).status == status


@pytest.mark.parametrize(
    ("text", "target", "status"),
    [
        # family history stated in a sentence (not only under a family-history header)
        ("Family history significant for diabetes mellitus.", "diabetes mellitus", "family"),
        ("Family history is positive for colon cancer.", "colon cancer", "family"),
        # a query mark before a finding, and stated uncertainty
        ("?pneumonia.", "pneumonia", "possible"),
        ("Cough, ? early pneumonia.", "early pneumonia", "possible"),
        ("Not certain whether this is pneumonia.", "pneumonia", "possible"),
        ("It is unclear whether there is an effusion.", "effusion", "possible"),
        # the patient's worry or fear asserts nothing about the disease
        ("He was worried about having cancer.", "cancer", "hypothetical"),
        ("She is afraid of having a stroke.", "stroke", "hypothetical"),
        ("Concern about breast cancer.", "breast cancer", "hypothetical"),
        # a clinician's concern for a finding is a hedge
        ("Opacity concerning for pneumonia.", "pneumonia", "possible"),
        ("No known drug allergies.", "drug allergies", "absent"),
    ],
)
def test_new_user_misses(matcher, text, target, status):
    assert judge(matcher, text, target).status == status


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("Acute kidney injury on admission, resolved with fluids.", "Acute kidney injury"),
        ("Headache resolved", "Headache"),
        ("Her nausea has resolved.", "nausea"),
        ("Interval resolution of the right lower lobe pneumonia.", "pneumonia"),
    ],
)
def test_resolved_problems_are_present_and_marked_resolved(matcher, text, target):
    result = judge(matcher, text, target)
    assert (result.status, result.resolved) == ("present", True)
    assert [c.category for c in result.cues] == ["resolved"]


def test_unresolved_and_current_problems_are_not_resolved(matcher):
    assert not judge(matcher, "The effusion has not resolved.", "effusion").resolved
    assert not judge(matcher, "Small left effusion.", "effusion").resolved
    # "no longer" is still a negation
    assert judge(matcher, "The rash is no longer present.", "rash").status == "absent"
    assert judge(matcher, "No longer has chest pain.", "chest pain").status == "absent"


def test_no_known_drug_allergies_is_not_historical(matcher):
    result = judge(matcher, "Patient has no known drug allergies.", "drug allergies")
    assert (result.status, result.historical) == ("absent", False)
    # "known" alone still marks an earlier diagnosis
    assert judge(matcher, "Known coronary artery disease.", "coronary artery disease").historical


@pytest.mark.parametrize(
    ("text", "target"),
    [
        # "consistent with" states the reader's diagnosis in radiology
        ("Findings compatible with mild interstitial edema.", "interstitial edema"),
        ("Opacity consistent with right middle lobe pneumonia.", "pneumonia"),
        ("Left lower lobe atelectasis.", "atelectasis"),
        ("Moderate cardiomegaly.", "cardiomegaly"),
        ("Stable right pleural effusion.", "pleural effusion"),
    ],
)
def test_findings_without_a_hedge_stay_present(matcher, text, target):
    assert judge(matcher, text, target).status == "present"


def test_excluded_in_the_past_tense_is_absent(matcher):
    assert judge(matcher, "Pulmonary embolism was excluded.", "Pulmonary embolism").status == "absent"
    assert judge(matcher, "Pulmonary embolism has not been excluded.", "Pulmonary embolism").status == "possible"


def assert_all(matcher, text, words):
    spans = [(text.index(word), text.index(word) + len(word)) for word in words]
    return [a.status for a in matcher.assert_targets(text, spans, [(0, len(text))])]


@pytest.mark.parametrize(
    ("text", "targets", "statuses"),
    [
        # "with" after a negated finding starts a new, present finding
        ("No cardiomegaly with bilateral small pleural effusions.", ["cardiomegaly", "pleural effusions"], ["absent", "present"]),
        ("No focal consolidation, with stable hyperinflation.", ["consolidation", "hyperinflation"], ["absent", "present"]),
        # coordinated negations are unchanged
        ("No pneumothorax or effusion.", ["pneumothorax", "effusion"], ["absent", "absent"]),
        ("Without focal consolidation, effusion or pneumothorax.", ["consolidation", "effusion", "pneumothorax"], ["absent"] * 3),
        # "with" before the first finding does not stop the negation
        ("No patient with fever.", ["fever"], ["absent"]),
        ("Denies headache or dizziness with exertion.", ["headache", "dizziness"], ["absent", "absent"]),
    ],
)
def test_with_ends_negation_after_a_finding(matcher, text, targets, statuses):
    assert assert_all(matcher, text, targets) == statuses


@pytest.mark.parametrize(
    ("text", "target", "historical"),
    [
        ("Prior myocardial infarction.", "Prior myocardial infarction", True),
        ("Psychiatric history: depression.", "depression", True),
        ("Reviewed her psychiatric history.", "psychiatric history", True),
        ("Denies alcohol or illicit drugs.", "illicit drugs", True),
        ("Denies alcohol or illicit drugs.", "alcohol", True),
        ("Tobacco use: half a pack a day.", "Tobacco use", True),
        # an allergy is a standing, current sensitivity, not history
        ("Allergies: sulfa.", "Allergies", False),
        ("Admitted with alcohol intoxication.", "alcohol intoxication", False),
        ("She currently smokes cigarettes.", "cigarettes", False),
        ("Absent pulses in the left foot.", "Absent pulses", False),
    ],
)
def test_historical_cues_inside_the_mention(matcher, text, target, historical):
    assert judge(matcher, text, target).historical is historical


def test_screening_is_hypothetical(matcher):
    assert judge(matcher, "Referred for screening for colon cancer.", "colon cancer").status == "hypothetical"


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("A man with no relevant medical history presented an asymptomatic tumor.", "tumor"),
        ("A worker with no previous history consulted for episodes of dizziness.", "dizziness"),
        ("The patient does not improve and starts to present rhinorrhea.", "rhinorrhea"),
        ("A woman with no relevant medical history, ex-smoker for 15 years.", "ex-smoker"),
        ("A man with no toxic habits and a history of lactose intolerance.", "lactose intolerance"),
        ("With no relevant history, he was referred for proptosis.", "proptosis"),
        ("Walking was accompanied by non-irradiated low back pain.", "low back pain"),
    ],
)
def test_a_new_clause_or_a_modifier_is_not_negated(matcher, text, target):
    assert judge(matcher, text, target).status == "present"


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("FNAC: negative cytology for malignant cells.", "malignant cells"),
        ("Serology for enterovirus and herpes virus, both of which were negative.", "herpes virus"),
    ],
)
def test_a_negative_result_negates_what_it_was_for(matcher, text, target):
    assert judge(matcher, text, target).status == "absent"
