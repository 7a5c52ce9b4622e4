"""ICD-10-CM tabular XML loader on a two-chapter fixture, and its malformed-input errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinlink.errors import SourceFormatError
from clinlink.kb.loaders import icd10cm_source


@pytest.fixture(scope="module")
def xml(fixtures_dir: Path) -> Path:
    return fixtures_dir / "mini_icd10cm.xml"


@pytest.fixture(scope="module")
def concepts(xml: Path) -> dict:
    return {c.id: c for c in icd10cm_source.load(xml)}


def test_chapter_block_category_code_hierarchy(concepts):
    assert concepts["ICD10CM:F10.0"].parents == ["ICD10CM:F10"]
    assert concepts["ICD10CM:F10"].parents == ["ICD10CM:F10-F19"]
    assert concepts["ICD10CM:F10-F19"].parents == ["ICD10CM:chapter-10"]
    assert concepts["ICD10CM:chapter-10"].parents == []
    assert concepts["ICD10CM:G30.11"].parents == ["ICD10CM:G30.1"]
    levels = {cid: c.metadata["level"][0] for cid, c in concepts.items()}
    assert (levels["ICD10CM:chapter-19"], levels["ICD10CM:G30-G39"], levels["ICD10CM:G30"], levels["ICD10CM:G30.1"]) == (
        "chapter", "block", "category", "code",
    )


def test_one_category_block_does_not_take_the_category_id(concepts):
    assert concepts["ICD10CM:F20"].name == "Cardiomegaly, fixture"
    assert concepts["ICD10CM:F20"].parents == ["ICD10CM:F20-F20"]
    assert concepts["ICD10CM:F20-F20"].name == "Fixture heart size (F20)"


def test_descriptions_inclusion_terms_and_excludes(concepts):
    category = concepts["ICD10CM:F10"]
    assert category.name == "Pleural effusion, not elsewhere classified"
    assert [(s.name, s.kind) for s in category.synonyms] == [("Encysted pleurisy", "INCLUSION"), ("Pleural effusion NOS", "INCLUSION")]
    assert category.metadata["excludes1"] == ["chylous (pleural) effusion (F11)"]
    assert concepts["ICD10CM:F11"].metadata["excludes2"] == ["pleural effusion NOS (F10)"]


def test_seventh_character_codes_are_unindexed_leaves(concepts):
    initial = concepts["ICD10CM:G30.11XA"]
    assert initial.name == "Fixture contusion of the right chest wall, initial encounter"
    assert initial.parents == ["ICD10CM:G30.11"] and not initial.indexed
    assert {"ICD10CM:G30.11XD", "ICD10CM:G30.11XS"} <= set(concepts)
    assert "ICD10CM:G30.1XA" not in concepts  # only leaves get 7th characters
    assert not concepts["ICD10CM:chapter-10"].indexed and not concepts["ICD10CM:F10-F19"].indexed


def test_expansion_can_be_switched_off(xml):
    ids = {c.id for c in icd10cm_source.load(xml, expand_seventh_character=False)}
    assert "ICD10CM:G30.11" in ids and not any(i.endswith("XA") for i in ids)


def test_version(xml):
    assert icd10cm_source.version(xml) == "2099"


def test_truncated_xml_names_file_and_line(xml, tmp_path):
    path = tmp_path / "truncated.xml"
    lines = xml.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:40]), encoding="utf-8")
    with pytest.raises(SourceFormatError, match=r"truncated\.xml:41: malformed XML"):
        icd10cm_source.load(path)


def test_missing_file_directory_and_foreign_xml(tmp_path):
    with pytest.raises(SourceFormatError, match="file not found"):
        icd10cm_source.load(tmp_path / "nope.xml")
    with pytest.raises(SourceFormatError, match="is a directory"):
        icd10cm_source.load(tmp_path)
    other = tmp_path / "other.xml"
    other.write_text("<?xml version='1.0'?><catalog><book/></catalog>", encoding="utf-8")
    with pytest.raises(SourceFormatError, match="no ICD-10-CM chapters or codes"):
        icd10cm_source.load(other)
