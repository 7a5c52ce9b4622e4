"""Compiling fixture sources: manifest, rebuild only on change, corrupted artifacts, config errors."""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
from pathlib import Path

import pytest

from clinlink.errors import ConfigError, KnowledgeBaseError, SourceFormatError
from clinlink.kb import build_kb, load_compiled, load_kb
from clinlink.kb.compiled import CONCEPTS, MANIFEST, read_manifest, register_artifact
from clinlink.kb.config import read_config
from clinlink.kb.loaders import loader


@pytest.fixture()
def sources(fixtures_dir: Path, tmp_path: Path) -> Path:
    """A config over copies of the OBO and ICD-10-CM fixtures, so tests can change them."""
    folder = tmp_path / "sources"
    folder.mkdir()
    shutil.copy(fixtures_dir / "mini.obo", folder)
    shutil.copy(fixtures_dir / "mini_icd10cm.xml", folder)
    config = folder / "small.yaml"
    config.write_text(
        "name: small\nsources:\n  - name: hpo\n    type: obo\n    path: mini.obo\n"
        "  - name: icd\n    type: icd10cm\n    path: mini_icd10cm.xml\n    options:\n      expand_seventh_character: false\n",
        encoding="utf-8",
    )
    return config


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_manifest_records_sources_versions_checksums_options_and_counts(fixture_kb, fixtures_dir):
    manifest = read_manifest(fixture_kb.path)
    assert manifest["name"] == "fixture"
    sources = {s["name"]: s for s in manifest["sources"]}
    assert list(sources) == ["hpo", "icd10cm", "umls", "snomed"]
    assert {n: s["version"] for n, s in sources.items()} == {
        "hpo": "hp/releases/2099-01-01", "icd10cm": "2099", "umls": "2099AA", "snomed": "INT_20990131",
    }
    assert {n: s["count"] for n, s in sources.items()} == {"hpo": 10, "icd10cm": 16, "umls": 9, "snomed": 11}
    assert sources["umls"]["options"] == {"hierarchy_sabs": ["SNOMEDCT_US"]}
    assert [Path(f["path"]).name for f in sources["umls"]["files"]] == ["MRCONSO.RRF", "MRSTY.RRF", "MRREL.RRF", "MRDEF.RRF"]
    for source in manifest["sources"]:
        for file in source["files"]:
            assert file["sha256"] == _sha256(Path(file["path"]))
            assert file["size"] == Path(file["path"]).stat().st_size
    assert manifest["counts"]["concepts"] == 46 == len(fixture_kb)
    assert manifest["counts"]["concepts:UMLS"] == 9 and manifest["counts"]["concepts:SNOMEDCT"] == 11
    assert manifest["artifacts"]["concepts"]["sha256"] == _sha256(fixture_kb.path / CONCEPTS)


def test_rebuild_is_skipped_when_nothing_changed(sources, tmp_path):
    out = build_kb(sources, tmp_path / "kb")
    built_at = (out / CONCEPTS).stat().st_mtime_ns, read_manifest(out)["built_at"]
    os.utime(sources.parent / "mini.obo")  # touched, same content
    build_kb(sources, out)
    assert ((out / CONCEPTS).stat().st_mtime_ns, read_manifest(out)["built_at"]) == built_at
    build_kb(sources, out, force=True)
    assert (out / CONCEPTS).stat().st_mtime_ns != built_at[0]


def test_rebuild_happens_when_an_input_changes(sources, tmp_path):
    out = build_kb(sources, tmp_path / "kb")
    assert read_manifest(out)["counts"]["concepts:HP"] == 10
    with open(sources.parent / "mini.obo", "a", encoding="utf-8") as handle:
        handle.write("\n[Term]\nid: HP:9000099\nname: Added later\nis_a: HP:0000118\n")
    build_kb(sources, out)
    kb = load_compiled(out)
    assert kb.get("HP:9000099").name == "Added later"
    assert read_manifest(out)["counts"]["concepts:HP"] == 11


def test_rebuild_happens_when_options_change(sources, tmp_path):
    out = build_kb(sources, tmp_path / "kb")
    assert "ICD10CM:G30.11XA" not in load_compiled(out)
    sources.write_text(sources.read_text(encoding="utf-8").replace("false", "true"), encoding="utf-8")
    build_kb(sources, out)
    assert "ICD10CM:G30.11XA" in load_compiled(out)


def test_load_kb_builds_into_clinlink_home_and_refuses_a_stale_kb_without_build(sources, tmp_path, monkeypatch):
    monkeypatch.setenv("CLINLINK_HOME", str(tmp_path / "home"))
    kb = load_kb(config=sources)
    assert kb.path == tmp_path / "home" / "kb" / "small" and len(kb) == 23
    with open(sources.parent / "mini.obo", "a", encoding="utf-8") as handle:
        handle.write("\n[Term]\nid: HP:9000099\nname: Added later\n")
    with pytest.raises(KnowledgeBaseError, match="out of date"):
        load_kb(config=sources, build=False)
    assert "HP:9000099" in load_kb(config=sources)


def test_corrupted_concepts_file(fixture_kb, tmp_path):
    copy = shutil.copytree(fixture_kb.path, tmp_path / "kb")
    payload = bytearray((copy / CONCEPTS).read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    (copy / CONCEPTS).write_bytes(bytes(payload[: len(payload) - 10]))
    with pytest.raises(KnowledgeBaseError, match=r"concepts\.bin: checksum does not match"):
        load_compiled(copy)
    with pytest.raises(KnowledgeBaseError, match=r"concepts\.bin: cannot unpickle: .* bytes of concepts .*truncated"):
        load_compiled(copy, verify=False)
    (copy / CONCEPTS).unlink()
    with pytest.raises(KnowledgeBaseError, match="cannot read"):
        load_compiled(copy)


@pytest.mark.parametrize(
    "content,message",
    [
        ("{not json", "unreadable manifest"),
        ('{"format_version": 99}', "format 99 is not 2"),
        ('{"format_version": 2, "sources": []}', "lacks its sources or concepts entry"),
        ("[1, 2]", "format None is not 2"),
    ],
)
def test_corrupted_manifest(fixture_kb, tmp_path, content, message):
    copy = shutil.copytree(fixture_kb.path, tmp_path / "kb")
    (copy / MANIFEST).write_text(content, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=message):
        load_compiled(copy)


def test_missing_kb_directory(tmp_path):
    with pytest.raises(KnowledgeBaseError, match="no compiled knowledge base here"):
        load_compiled(tmp_path / "nothing")


def test_a_corrupted_manifest_is_rebuilt(sources, tmp_path):
    out = build_kb(sources, tmp_path / "kb")
    (out / MANIFEST).write_text("{", encoding="utf-8")
    build_kb(sources, out)
    assert len(load_compiled(out)) == 23


def test_register_artifact_is_recorded_in_the_manifest(sources, tmp_path):
    out = build_kb(sources, tmp_path / "kb")
    register_artifact(out, "dense_index", {"file": "dense/index.faiss", "dim": 384})
    assert read_manifest(out)["artifacts"]["dense_index"] == {"file": "dense/index.faiss", "dim": 384}
    assert len(load_compiled(out)) == 23


def test_config_errors(sources, tmp_path):
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("sources:\n  - type: meddra\n    path: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown source type 'meddra'; known types: hpo, icd10cm, obo, snomed, umls"):
        read_config(unknown)
    with pytest.raises(ConfigError, match="not found"):
        read_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="no ontology config named 'nonesuch'"):
        read_config("nonesuch")
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("sources: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        read_config(invalid)
    licensed = tmp_path / "licensed.yaml"
    licensed.write_text("sources:\n  - type: umls\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="has no default file: set 'path'"):
        build_kb(licensed, tmp_path / "kb")


def test_unknown_loader_option_is_a_config_error(sources, tmp_path):
    sources.write_text(sources.read_text(encoding="utf-8").replace("expand_seventh_character", "expand_7th"), encoding="utf-8")
    with pytest.raises(ConfigError, match="source 'icd'.*expand_7th"):
        build_kb(sources, tmp_path / "kb")


def test_missing_source_file_names_it(sources, tmp_path):
    (sources.parent / "mini.obo").unlink()
    with pytest.raises(SourceFormatError, match=r"mini\.obo: file not found"):
        build_kb(sources, tmp_path / "kb")


@pytest.mark.parametrize("name", ["default", "hpo", "umls.example", "snomed.example"])
def test_shipped_configs_name_known_loaders_and_options(name):
    config = read_config(name)
    for source in config.sources:
        module = loader(source.type)
        inspect.signature(module.load).bind(source.path or Path("."), **source.options)


def test_concepts_pickle_every_field_through_their_constructor():
    """The compact pickle (a constructor call on the slot values, in order) keeps every field."""
    import dataclasses
    import pickle

    from clinlink.kb import Concept, Synonym

    assert [f.name for f in dataclasses.fields(Concept)] == list(Concept.__slots__)
    concept = Concept(
        "HP:9000001", "HP", "Enlarged heart", [Synonym("Cardiomegaly", "EXACT"), Synonym("Big heart", "RELATED")],
        ["T047"], "DISO", "A heart that is too big.", ["UMLS:C0018800"], ["HP:0000118"], ["HP:9000009"],
        True, "HP:0001640", {"comment": ["made up"]}, False,
    )
    copy = pickle.loads(pickle.dumps(concept, protocol=pickle.HIGHEST_PROTOCOL))
    assert copy == concept and copy is not concept
    assert [dataclasses.astuple(s) for s in copy.synonyms] == [("Cardiomegaly", "EXACT"), ("Big heart", "RELATED")]
