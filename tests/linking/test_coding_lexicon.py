"""Coding lexicons: the TSV file, mining one from coded notes, and what the clinical pipeline does with one.
Notes and codes written for these tests."""

from __future__ import annotations

import pytest

import clinlink
from clinlink.errors import ConfigError
from clinlink.linking.candidates import Candidate
from clinlink.linking.coding_lexicon import (
    CodingLexicon, LexiconEntry, load_coding_lexicon, load_coding_lexicons, resolve_lexicon, resolve_lexicons,
)
from clinlink.training.coding_lexicon import mine_lexicon


def write_lexicon(path, rows: list[str]) -> str:
    path.write_text("# a test lexicon\nphrase\tcode\tdocuments\tprecision\n" + "\n".join(rows) + "\n", encoding="utf-8")
    load_coding_lexicon.cache_clear()
    return str(path)


def test_lookup_folds_case_and_inflection(tmp_path):
    lexicon = load_coding_lexicon(write_lexicon(tmp_path / "l.tsv", ["aching limb\tM79.609\t4\t0.75", "tumor\t-\t9\t0.0"]))
    assert lexicon.lookup("Aching limbs").code == "M79.609"
    assert lexicon.lookup("tumors") == LexiconEntry("tumor", None, 9, 0.0)
    assert lexicon.lookup("aching") is None
    assert lexicon.names() == {"ICD10CM:M79.609": ["aching limb"]}
    assert lexicon.header == ("a test lexicon",)


def test_save_and_load_round_trip(tmp_path):
    lexicon = CodingLexicon.from_entries([LexiconEntry("Pins and needles", "R20.2", 3, 0.667), LexiconEntry("mass", None, 5, 0.1)])
    lexicon.save(tmp_path / "out.tsv")
    load_coding_lexicon.cache_clear()
    assert load_coding_lexicon(tmp_path / "out.tsv").entries == lexicon.entries


def test_a_malformed_row_names_the_file_and_line(tmp_path):
    path = write_lexicon(tmp_path / "bad.tsv", ["fever\tR50.9\t3\t0.9", "chills\tR68.83\tmany\t0.5"])
    with pytest.raises(ConfigError, match=r"bad.tsv, line 4"):
        load_coding_lexicon(path)


def test_packaged_lexicon_is_found_by_name_and_unknown_names_are_listed():
    assert resolve_lexicon("codiesp-en").endswith("codiesp-en.tsv")
    with pytest.raises(ConfigError, match="codiesp-en"):
        resolve_lexicon("no-such-lexicon")


@pytest.mark.slow
def test_mining_keeps_what_the_code_names_and_drops_what_only_co_occurs(default_kb):
    texts, codes = {}, {}
    for n in range(4):
        texts[f"p{n}"] = f"Case {n}. The woman reported paresthesia in both hands. She underwent a radical nephrectomy."
        codes[f"p{n}"] = {"R20.2", "N28.89"}
    texts["q"] = "No paresthesia was reported. The child had fever."
    codes["q"] = {"R50.9"}
    lexicon = mine_lexicon(default_kb, texts, codes, min_documents=2, min_precision=0.6)
    assert lexicon.lookup("paresthesia") == LexiconEntry("paresthesia", "R20.2", 4, 1.0)  # the negated note does not count
    assert lexicon.lookup("radical nephrectomy") is None  # a procedure: its disease code is an inference
    assert lexicon.lookup("woman") is None  # co-occurs with R20.2 but is no word of its names
    assert lexicon.lookup("fever") is None  # one document only


@pytest.mark.slow
def test_mining_marks_a_phrase_whose_usual_code_coders_never_write(default_kb):
    texts = {f"d{n}": f"A growth was seen. Biopsy of the tumor {n}." for n in range(5)}
    codes = {f"d{n}": {"C61"} for n in range(5)}
    mentions = {doc_id: [("tumor", "D49.9")] for doc_id in texts}
    lexicon = mine_lexicon(default_kb, texts, codes, mentions, min_uncoded_documents=5)
    assert lexicon.lookup("tumor") == LexiconEntry("tumor", None, 5, 0.0)


@pytest.mark.slow
def test_the_clinical_pipeline_codes_lexicon_phrases(default_kb, tmp_path):
    nlp = clinlink.load("clinical")
    doc = nlp("She reported paresthesia of the feet. A tumor was found in the pelvis.")
    codes = {span.text: span._.codes for span in doc.ents}
    assert codes["paresthesia"]["ICD10CM"][0][:2] == ["R20.2", "Paresthesia of skin"]
    assert "HPO" in codes["tumor"] and codes["tumor"].get("ICD10CM", [[None, None, None]])[0][2] is None  # no ICD-10-CM code linked
    assert [entry["code"] for entry in doc._.codes["ICD10CM"]] == ["R20.2"]


@pytest.mark.slow
def test_a_users_lexicon_adds_mentions_and_codes(default_kb, tmp_path):
    path = write_lexicon(tmp_path / "mine.tsv", ["achy all over\tR52\t3\t0.8"])
    nlp = clinlink.load("clinical", ner={"coding_lexicon": path}, linker={"coding_lexicon": path})
    doc = nlp("Since Monday she feels achy all over.")
    found = {span.text: span._.codes["ICD10CM"][0][0] for span in doc.ents}
    assert found == {"achy all over": "R52"}
    without = clinlink.load("clinical", ner={"coding_lexicon": None}, linker={"coding_lexicon": None})
    assert "achy all over" not in {span.text for span in without("Since Monday she feels achy all over.").ents}



def test_a_lexicon_phrase_is_matched_as_written_not_one_letter_off(default_kb, tmp_path):
    path = write_lexicon(tmp_path / "mine.tsv", ["rejection\tT86.11\t3\t0.8"])
    nlp = clinlink.load("clinical", ner={"coding_lexicon": path}, linker={"coding_lexicon": path})
    assert {span.text for span in nlp("Signs of graft rejection were seen.").ents} >= {"rejection"}
    assert "resection" not in {span.text for span in nlp("Transurethral resection of the lesion was done.").ents}


@pytest.mark.parametrize(
    ("word", "other", "same"),
    [("diabetic", "diabetes", True), ("disoriented", "disorientation", True), ("pneumothorax", "pneumonia", False),
     ("hyperintense", "hypertension", False), ("thrombophilia", "thrombosis", False)],
)
def test_forms_of_one_word_share_most_of_it(word, other, same):
    from clinlink.training.coding_lexicon import _same_stem

    assert _same_stem(word, other) is same


@pytest.mark.slow
def test_mining_is_deterministic_when_codes_tie(default_kb):
    texts = {f"t{n}": "Fever with chills since Monday." for n in range(2)}
    codes = {f"t{n}": {"R68.83", "R50.9"} for n in range(2)}  # both codes in both notes: a tie
    first = mine_lexicon(default_kb, texts, codes)
    assert first.lookup("fever with chills").code == "R50.9"  # the tie goes to the lower code
    assert mine_lexicon(default_kb, texts, {k: set(sorted(v, reverse=True)) for k, v in codes.items()}).entries == first.entries


@pytest.mark.slow
def test_retrieval_confirms_a_code_of_the_category_the_phrase_reads_as(default_kb):
    texts = {f"a{n}": f"Case {n}. Axillary adenopathies were palpated. The patient felt unwell." for n in range(3)}
    codes = {doc_id: {"R59.9"} for doc_id in texts}
    retrieved = {"adenopathies": ["R59.1", "R59.0"], "unwell": ["R53.81"]}  # what a linker reads each phrase as

    def retrieve(phrases):
        return [[Candidate(f"ICD10CM:{code}", code, 0.8) for code in retrieved.get(phrase, ["Z00.00"])] for phrase in phrases]

    assert mine_lexicon(default_kb, texts, codes).lookup("adenopathies") is None  # no word of R59.9's names
    lexicon = mine_lexicon(default_kb, texts, codes, retrieve=retrieve)
    assert lexicon.lookup("adenopathies").code == "R59.9"  # coders' code within the category the linker reads
    assert lexicon.lookup("unwell") is None  # read as another category: co-occurrence alone is not enough
    assert lexicon.lookup("patient felt") is None
    fevers = {f"f{n}": f"A {n} day history of fever." for n in range(3)}
    lexicon = mine_lexicon(default_kb, fevers, {doc_id: {"R50.9"} for doc_id in fevers}, retrieve=lambda ps: [[Candidate("ICD10CM:R50.9", "Fever", 0.9)] for _ in ps])
    assert lexicon.lookup("fever").code == "R50.9"
    assert lexicon.lookup("history of fever") is None  # a part of it already names the category: the shortest phrase is the entry
    exact = {"adenopathies": [Candidate("ICD10CM:R59.1", "Adenopathies", 1.0, exact=True)]}
    lexicon = mine_lexicon(default_kb, texts, codes, retrieve=lambda phrases: [exact.get(p, []) for p in phrases])
    assert lexicon.lookup("adenopathies") is None  # the phrase is another code's exact name: that code stands


@pytest.mark.slow
def test_mining_reads_generic_words_only_where_the_name_says_them_and_skips_negated_phrases(default_kb):
    texts = {f"h{n}": f"History of heart disease. He had no fever on day {n}." for n in range(3)}
    codes = {doc_id: {"I51.9", "R50.9"} for doc_id in texts}
    lexicon = mine_lexicon(default_kb, texts, codes)
    assert lexicon.lookup("heart disease").code == "I51.9"  # "Heart disease, unspecified"
    assert lexicon.lookup("disease") is None  # a generic word alone names nothing
    assert lexicon.lookup("fever") is None and lexicon.lookup("no fever") is None  # negated in every note


def test_mining_does_not_code_a_body_site_alone(default_kb):
    texts = {f"s{n}": f"Prostatic symptoms for {n} months." for n in range(3)}
    texts.update({f"n{n}": f"A prostatic neoplasm was found on day {n}." for n in range(2)})
    codes = {doc_id: {"C61"} for doc_id in texts}
    lexicon = mine_lexicon(default_kb, texts, codes)
    assert lexicon.lookup("prostatic neoplasm").code == "C61"
    assert lexicon.lookup("prostatic") is None  # the organ, not its malignant neoplasm
    texts = {f"h{n}": f"The right hip was examined on day {n}. The celiac trunk was normal." for n in range(3)}
    codes = {doc_id: {"M25.551", "K90.0"} for doc_id in texts}
    retrieve = lambda phrases: [[Candidate("ICD10CM:M25.551", "Pain in right hip", 0.8)] if "hip" in p else [] for p in phrases]  # noqa: E731
    lexicon = mine_lexicon(default_kb, texts, codes, retrieve=retrieve)
    assert lexicon.lookup("right hip") is None and lexicon.lookup("hip") is None  # a place and a side, retrieval or not
    assert lexicon.lookup("celiac") is None  # named by "Celiac disease" word for word, but a place alone


def test_a_concept_entry_codes_every_wording_of_that_concept(tmp_path):
    lexicon = load_coding_lexicon(write_lexicon(tmp_path / "c.tsv", ["HP:0000622\tH53.8\t0\t0", "blurry\t-\t0\t0"]))
    assert lexicon.lookup("blurry eyesight", "HP:0000622").code == "H53.8"
    assert lexicon.lookup("blurry eyesight") is None
    assert lexicon.lookup("blurry", "HP:0000622").code is None  # a phrase entry decides before its concept's
    assert lexicon.names() == {}  # concept entries add no phrase for the mention detector


def test_lexicons_are_read_in_order_the_first_holding_the_phrase_or_concept_deciding(tmp_path):
    first = write_lexicon(tmp_path / "first.tsv", ["tumor\tD49.9\t0\t0", "HP:0006543\tI46.9\t0\t0"])
    second = write_lexicon(tmp_path / "second.tsv", ["tumor\t-\t9\t0.0", "fever\tR50.9\t9\t0.9", "cardiorespiratory arrest\t-\t5\t0"])
    lexicons = load_coding_lexicons(resolve_lexicons([first, second]))
    assert lexicons.lookup("tumor").code == "D49.9" and lexicons.lookup("fever").code == "R50.9"
    assert lexicons.lookup("cardiorespiratory arrest", "HP:0006543").code == "I46.9"
    assert lexicons.lookup("cardiorespiratory arrest") == LexiconEntry("cardiorespiratory arrest", None, 5, 0.0)
    assert lexicons.names() == {"ICD10CM:D49.9": ["tumor"], "ICD10CM:R50.9": ["fever"]}
    assert resolve_lexicons("icd10cm-index")[0].endswith("icd10cm-index.tsv") and resolve_lexicons(None) == ()
    assert load_coding_lexicons(()) is None


@pytest.mark.slow
def test_the_packaged_index_entries_code_findings_the_titles_do_not_name(default_kb):
    doc = clinlink.load("clinical")("She reported blurred vision and rectal bleeding; a cardiorespiratory arrest followed.")
    assert [entry["code"] for entry in doc._.codes["ICD10CM"]] == ["H53.8", "K62.5", "I46.9"]


def test_a_mined_phrase_stays_within_one_conjunct(default_kb):
    texts = {f"c{n}": f"Seen on day {n} for fever and abdominal pain. History of hypertension, dyslipidemia." for n in range(3)}
    codes = {doc_id: {"R10.9", "E78.5", "I10"} for doc_id in texts}
    read_as = {"abdominal": Candidate("ICD10CM:R10.9", "Unspecified abdominal pain", 0.9),
               "dyslipidemia": Candidate("ICD10CM:E78.5", "Hyperlipidemia, unspecified", 0.9)}
    retrieve = lambda phrases: [[c for word, c in read_as.items() if word in phrase] for phrase in phrases]  # noqa: E731
    lexicon = mine_lexicon(default_kb, texts, codes, retrieve=retrieve)
    assert lexicon.lookup("abdominal pain").code == "R10.9"
    assert lexicon.lookup("fever and abdominal") is None and lexicon.lookup("and abdominal pain") is None
    assert lexicon.lookup("hypertension dyslipidemia") is None  # two conditions a comma apart
    assert lexicon.lookup("dyslipidemia").code == "E78.5"



def test_the_packaged_mined_lexicon_holds_no_piece_of_a_narrative():
    from clinlink.training.coding_lexicon import NARRATIVE_WORDS, _only_places

    lexicon = load_coding_lexicon(resolve_lexicon("codiesp-en"))
    phrases = [entry.phrase for entry in lexicon.entries.values() if entry.code is not None]
    assert len(phrases) > 400
    assert [phrase for phrase in phrases if NARRATIVE_WORDS.intersection(phrase.split())] == []
    assert [phrase for phrase in phrases if " and " in f" {phrase} " or " or " in f" {phrase} "] == []
    assert [phrase for phrase in phrases if _only_places(phrase)] == []


def test_mining_leaves_out_procedures_and_tests(default_kb):
    texts = {f"p{n}": f"Day {n}: pericardiocentesis was done. Then a coronary arteriography." for n in range(3)}
    codes = {doc_id: {"I31.3", "I25.10"} for doc_id in texts}
    read_as = {"pericardiocentesis": "ICD10CM:I31.3", "arteriography": "ICD10CM:I25.10"}
    retrieve = lambda phrases: [[Candidate(cid, "", 0.8) for word, cid in read_as.items() if word in p] for p in phrases]  # noqa: E731
    lexicon = mine_lexicon(default_kb, texts, codes, retrieve=retrieve)
    assert lexicon.lookup("pericardiocentesis") is None and lexicon.lookup("coronary arteriography") is None


def test_mining_leaves_out_drug_classes(default_kb):
    texts = {f"d{n}": f"Day {n}: he received bronchodilators." for n in range(3)}
    retrieve = lambda phrases: [[Candidate("ICD10CM:J98.8", "", 0.8)] for _ in phrases]  # noqa: E731
    lexicon = mine_lexicon(default_kb, texts, {doc_id: {"J98.8"} for doc_id in texts}, retrieve=retrieve)
    assert lexicon.lookup("bronchodilators") is None
