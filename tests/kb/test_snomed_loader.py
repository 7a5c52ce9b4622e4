"""SNOMED CT RF2 Snapshot loader on the fixture release (made-up SCTIDs)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from clinlink.errors import SourceFormatError
from clinlink.kb.loaders import snomed


@pytest.fixture(scope="module")
def snapshot(fixtures_dir: Path) -> Path:
    return fixtures_dir / "snomed" / "Snapshot"


@pytest.fixture(scope="module")
def concepts(snapshot: Path) -> dict:
    return {c.id: c for c in snomed.load(snapshot)}


@pytest.fixture()
def release_copy(snapshot: Path, tmp_path: Path) -> Path:
    shutil.copytree(snapshot, tmp_path / "Snapshot")
    return tmp_path / "Snapshot"


def _file(folder: Path, pattern: str) -> Path:
    return next(folder.rglob(pattern))


def test_every_concept_with_prefixed_id(concepts):
    assert len(concepts) == 11
    assert all(cid.startswith("SNOMEDCT:") and c.source == "SNOMEDCT" for cid, c in concepts.items())


def test_preferred_term_from_the_language_refset_and_synonyms(concepts):
    effusion = concepts["SNOMEDCT:900000002000"]
    assert effusion.name == "Pleural effusion"
    assert {s.name for s in effusion.synonyms} == {"Fluid in pleural cavity", "Hydrothorax"}
    assert "Pleural fluid NOS" not in effusion.names  # inactive description
    assert "Derrame pleural" not in effusion.names  # not English
    assert effusion.metadata["fsn"] == ["Pleural effusion (disorder)"]
    # the US preferred term, though the GB refset prefers another synonym
    assert concepts["SNOMEDCT:900000004000"].name == "Heart enlargement"


def test_gb_language_refset_picks_its_own_preferred_term(snapshot):
    gb = {c.id: c for c in snomed.load(snapshot, language_refset="900000000000508004")}
    assert gb["SNOMEDCT:900000004000"].name == "Enlarged heart"
    assert "Heart enlargement" in gb["SNOMEDCT:900000004000"].names


def test_without_language_refset_the_fsn_minus_its_tag_names_the_concept(release_copy):
    shutil.rmtree(release_copy / "Refset" / "Language")
    concepts = {c.id: c for c in snomed.load(release_copy)}
    assert concepts["SNOMEDCT:900000005000"].name == "Disorder of heart"
    assert "Heart disorder" in concepts["SNOMEDCT:900000005000"].names


def test_semantic_tag_gives_type_and_group(concepts):
    assert concepts["SNOMEDCT:900000002000"].semantic_types == ["disorder"]
    assert concepts["SNOMEDCT:900000002000"].group == "DISO"
    assert concepts["SNOMEDCT:900000004000"].group == "DISO"  # finding
    assert concepts["SNOMEDCT:900000006000"].group == "ANAT"
    assert concepts["SNOMEDCT:900000007000"].group == "PROC"
    assert concepts["SNOMEDCT:900000008000"].group == "CHEM"
    assert snomed.split_semantic_tag("Chylous effusion (pleural) (disorder)") == ("Chylous effusion (pleural)", "disorder")


def test_active_is_a_relationships_give_parents(concepts):
    assert concepts["SNOMEDCT:900000002000"].parents == ["SNOMEDCT:900000001000"]  # finding site row ignored
    assert concepts["SNOMEDCT:900000003000"].parents == ["SNOMEDCT:900000002000"]  # inactive is-a ignored
    assert set(concepts["SNOMEDCT:900000004000"].parents) == {"SNOMEDCT:910000001000", "SNOMEDCT:900000005000"}


def test_extended_map_targets_become_icd_xrefs(concepts):
    assert concepts["SNOMEDCT:900000002000"].xrefs == ["ICD10:F10.9", "ICD10CM:F10.0"]
    assert concepts["SNOMEDCT:900000004000"].xrefs == ["ICD10:F20"]  # the inactive F99 row is ignored
    assert concepts["SNOMEDCT:900000006000"].xrefs == []  # empty target (context dependent)


def test_inactive_concept_is_obsolete_with_its_replacement(concepts):
    retired = concepts["SNOMEDCT:900000009000"]
    assert retired.obsolete and retired.replaced_by == "SNOMEDCT:900000002000"


def test_text_definition(concepts):
    assert concepts["SNOMEDCT:900000002000"].definition.startswith("Fluid in the pleural cavity")


def test_release_root_and_version(snapshot):
    root = snapshot.parent
    assert len(snomed.load(root)) == 11
    assert snomed.version(snapshot) == "INT_20990131"
    assert len(snomed.input_files(snapshot)) == 7


def test_missing_folder_and_file_instead_of_folder(snapshot, tmp_path):
    with pytest.raises(SourceFormatError, match="release folder not found"):
        snomed.load(tmp_path / "nope")
    with pytest.raises(SourceFormatError, match="found a file"):
        snomed.load(_file(snapshot, "sct2_Concept_*"))
    with pytest.raises(SourceFormatError, match=r"no sct2_Concept_Snapshot\*\.txt found"):
        snomed.load(tmp_path)


def test_wrong_header_names_file_and_line_1(release_copy):
    path = _file(release_copy, "sct2_Description_*")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("languageCode", "language", 1), encoding="utf-8")
    with pytest.raises(SourceFormatError) as raised:
        snomed.load(release_copy)
    assert str(raised.value).startswith(f"{path}:1: expected RF2 header")


def test_wrong_column_count_names_file_and_line(release_copy):
    path = _file(release_copy, "sct2_Relationship_*")
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    lines[3] = lines[3].rsplit("\t", 1)[0]
    path.write_text("\r\n".join(lines), encoding="utf-8")
    with pytest.raises(SourceFormatError, match=r"sct2_Relationship_Snapshot_INT_20990131\.txt:4: expected 10 tab-separated columns, found 9"):
        snomed.load(release_copy)


def test_skip_mode_warns_with_a_count(release_copy, caplog):
    path = _file(release_copy, "sct2_Relationship_*")
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    lines[3] = lines[3].rsplit("\t", 1)[0]  # the 900000003000 is-a row
    path.write_text("\r\n".join(lines), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        concepts = {c.id: c for c in snomed.load(release_copy, on_error="skip")}
    assert concepts["SNOMEDCT:900000003000"].parents == []
    assert any("skipped 1 malformed row(s)" in r.getMessage() for r in caplog.records)


def test_empty_file_is_an_error(release_copy):
    path = _file(release_copy, "der2_cRefset_Association*")
    path.write_text("", encoding="utf-8")
    with pytest.raises(SourceFormatError, match=r"AssociationSnapshot_INT_20990131\.txt:1: empty file"):
        snomed.load(release_copy)
