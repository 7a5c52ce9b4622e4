"""UMLS Metathesaurus RRF loader on the fixture META folder (made-up CUIs and codes)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from clinlink.errors import ConfigError, SourceFormatError
from clinlink.kb.loaders import umls


@pytest.fixture(scope="module")
def meta(fixtures_dir: Path) -> Path:
    return fixtures_dir / "umls"


@pytest.fixture(scope="module")
def concepts(meta: Path) -> dict:
    return {c.id: c for c in umls.load(meta)}


@pytest.fixture()
def meta_copy(meta: Path, tmp_path: Path) -> Path:
    target = tmp_path / "2099AB" / "META"
    shutil.copytree(meta, target)
    (target / "release.dat").unlink()
    return target


def test_one_concept_per_cui_with_english_unsuppressed_atoms(concepts):
    assert set(concepts) == {f"UMLS:C90000{n:02d}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 10)}
    assert all(c.source == "UMLS" for c in concepts.values())
    assert "UMLS:C9000009" not in concepts  # Spanish atoms only


def test_preferred_name_is_the_ts_p_stt_pf_ispref_y_atom(concepts):
    effusion = concepts["UMLS:C9000002"]
    assert effusion.name == "Pleural effusion"  # not the first row (an ICD10CM TS=S atom)


def test_synonyms_are_the_other_distinct_strings_with_their_kind(concepts):
    synonyms = {s.name: s.kind for s in concepts["UMLS:C9000002"].synonyms}
    assert synonyms["Pleural effusion, not elsewhere classified"] == "EXACT"
    assert synonyms["Fluid in the pleural space"] == "EXACT"
    assert synonyms["PLEF"] == "ABBREVIATION"
    assert "pleural effusion" not in synonyms  # a case variant of the name
    assert "Hydrothorax NOS" not in synonyms  # SUPPRESS=O atom
    assert "Epanchement pleural" not in synonyms  # LAT=FRE atom
    assert "Effusions, obsolete entry" not in {s.name for s in concepts["UMLS:C9000010"].synonyms}  # SUPPRESS=E


def test_codes_of_the_atoms_become_xrefs(concepts):
    xrefs = concepts["UMLS:C9000002"].xrefs
    assert {"SNOMEDCT_US:900000002000", "ICD10CM:F10.0", "HP:9000002", "MSH:D900002", "NCI:C900002"} == set(xrefs)
    assert "MSHFRE:D900002" not in xrefs  # from a filtered-out (French) atom


def test_semantic_types_and_groups_from_mrsty(concepts):
    effusion = concepts["UMLS:C9000002"]
    assert effusion.semantic_types == ["Disease or Syndrome", "Finding", "T047", "T033"]
    assert effusion.group == "DISO"
    assert concepts["UMLS:C9000006"].group == "ANAT"
    assert concepts["UMLS:C9000007"].group == "PROC"
    assert concepts["UMLS:C9000008"].group == "CHEM"


def test_parents_from_par_and_chd_rows_of_the_hierarchy_sabs(concepts):
    assert concepts["UMLS:C9000002"].parents == ["UMLS:C9000001"]  # PAR and its CHD inverse, once
    assert concepts["UMLS:C9000003"].parents == ["UMLS:C9000002"]  # from a CHD row: CUI2 is the child
    assert concepts["UMLS:C9000004"].parents == ["UMLS:C9000005"]
    assert concepts["UMLS:C9000006"].parents == []  # suppressed (O) relationship
    assert concepts["UMLS:C9000007"].parents == []  # RO is not hierarchy


def test_hierarchy_sabs_option_adds_other_sources(meta):
    concepts = {c.id: c for c in umls.load(meta, hierarchy_sabs=["SNOMEDCT_US", "MSH"])}
    assert set(concepts["UMLS:C9000002"].parents) == {"UMLS:C9000001", "UMLS:C9000010"}
    only_msh = {c.id: c for c in umls.load(meta, hierarchy_sabs=["MSH"])}
    assert only_msh["UMLS:C9000002"].parents == ["UMLS:C9000010"]


def test_definition_follows_definition_sabs(meta, concepts):
    assert concepts["UMLS:C9000002"].definition.startswith("An abnormal collection")  # first row by default
    by_hpo = {c.id: c for c in umls.load(meta, definition_sabs=["HPO"])}
    assert by_hpo["UMLS:C9000002"].definition.startswith("Fluid between the layers")


def test_filters(meta):
    snomed_only = {c.id: c for c in umls.load(meta, sabs=["SNOMEDCT_US"])}
    assert "UMLS:C9000010" not in snomed_only  # MSH only
    assert all(x.startswith("SNOMEDCT_US:") for c in snomed_only.values() for x in c.xrefs)
    no_fsn = {c.id: c for c in umls.load(meta, exclude_ttys=["FN"])}
    assert "Pleural effusion (disorder)" not in no_fsn["UMLS:C9000002"].names
    keep_all = {c.id: c for c in umls.load(meta, suppress=[])}
    assert "Hydrothorax NOS" in keep_all["UMLS:C9000002"].names
    spanish = {c.id: c for c in umls.load(meta, languages=["SPA"])}
    assert list(spanish) == ["UMLS:C9000009"]
    hpo_codes = {c.id: c for c in umls.load(meta, xref_sabs=["HPO"])}
    assert hpo_codes["UMLS:C9000002"].xrefs == ["HP:9000002"] and hpo_codes["UMLS:C9000007"].xrefs == []


def test_sab_preference_chooses_the_naming_source(meta):
    by_icd = {c.id: c for c in umls.load(meta, sab_preference=["ICD10CM", "SNOMEDCT_US"])}
    assert by_icd["UMLS:C9000002"].name == "Pleural effusion, not elsewhere classified"
    assert by_icd["UMLS:C9000001"].name == "Pleural disorder"  # no ICD10CM atom: next preference
    assert "Pleural effusion" in by_icd["UMLS:C9000002"].names


def test_code_xref_keeps_prefixed_codes_and_drops_nocode():
    assert umls.code_xref("HPO", "HP:0002202") == "HP:0002202"
    assert umls.code_xref("SNOMEDCT_US", "60046008") == "SNOMEDCT_US:60046008"
    assert umls.code_xref("MSH", "NOCODE") is None


def test_version_from_release_dat_or_folder_name(meta, meta_copy):
    assert umls.version(meta) == "2099AA"
    assert umls.version(meta_copy) == "2099AB"  # no release.dat: the release folder above META


def test_input_files_lists_the_rrf_files_present(meta, meta_copy):
    assert [f.name for f in umls.input_files(meta)] == ["MRCONSO.RRF", "MRSTY.RRF", "MRREL.RRF", "MRDEF.RRF"]
    (meta_copy / "MRDEF.RRF").unlink()
    (meta_copy / "MRREL.RRF").unlink()
    assert [f.name for f in umls.input_files(meta_copy)] == ["MRCONSO.RRF", "MRSTY.RRF"]
    concepts = {c.id: c for c in umls.load(meta_copy)}
    assert concepts["UMLS:C9000002"].parents == [] and concepts["UMLS:C9000002"].definition is None


def test_missing_folder_file_instead_of_folder_and_missing_mrconso(meta, tmp_path):
    with pytest.raises(SourceFormatError, match="not found"):
        umls.load(tmp_path / "nope")
    with pytest.raises(SourceFormatError, match="expected the UMLS META folder"):
        umls.load(meta / "MRCONSO.RRF")
    with pytest.raises(SourceFormatError, match="MRCONSO.RRF: file not found"):
        umls.load(tmp_path)


def _break_line(path: Path, line: int) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].replace("|", "", 1)  # one field fewer
    path.write_text("".join(lines), encoding="utf-8")


@pytest.mark.parametrize("name,line", [("MRCONSO.RRF", 7), ("MRSTY.RRF", 2), ("MRREL.RRF", 3), ("MRDEF.RRF", 1)])
def test_wrong_field_count_names_file_and_line(meta_copy, name, line):
    _break_line(meta_copy / name, line)
    with pytest.raises(SourceFormatError) as raised:
        umls.load(meta_copy)
    assert raised.value.line == line
    assert str(raised.value).startswith(f"{meta_copy / name}:{line}: expected")


def test_missing_trailing_pipe_is_malformed(meta_copy):
    path = meta_copy / "MRSTY.RRF"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].rstrip("|")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SourceFormatError, match=r"MRSTY\.RRF:4: expected 6 '\|'-terminated fields"):
        umls.load(meta_copy)


def test_skip_mode_drops_bad_rows_and_warns_with_a_count(meta_copy, caplog):
    _break_line(meta_copy / "MRCONSO.RRF", 12)
    _break_line(meta_copy / "MRCONSO.RRF", 16)
    with caplog.at_level(logging.WARNING):
        concepts = {c.id: c for c in umls.load(meta_copy, on_error="skip")}
    assert "PLEF" not in concepts["UMLS:C9000002"].names
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("MRCONSO.RRF: skipped 2 malformed row(s)" in w for w in warnings)
    assert concepts["UMLS:C9000004"].name == "Enlarged heart, fixture code"  # its SNOMED PT row was dropped


def test_bad_on_error_value_is_a_config_error(meta):
    with pytest.raises(ConfigError, match="on_error"):
        umls.load(meta, on_error="ignore")


def test_filters_that_keep_nothing_are_an_error(meta):
    with pytest.raises(SourceFormatError, match="no atom passed"):
        umls.load(meta, languages=["GER"])
