"""``clinlink kb`` commands through Typer's CliRunner on a KB built from the fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinlink.cli.main import app

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


@pytest.fixture(scope="module")
def built(fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli_kb") / "kb"
    result = runner.invoke(app, ["kb", "build", "--config", str(fixtures_dir / "fixture_kb.yaml"), "--out", str(out)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "46 concepts" in result.stdout
    return out


def test_build_is_skipped_when_up_to_date(built, fixtures_dir):
    before = (built / "concepts.bin").stat().st_mtime_ns
    result = runner.invoke(app, ["kb", "build", "-c", str(fixtures_dir / "fixture_kb.yaml"), "-o", str(built)], env=WIDE)
    assert result.exit_code == 0 and (built / "concepts.bin").stat().st_mtime_ns == before


def test_info_lists_sources_versions_and_counts(built):
    result = runner.invoke(app, ["kb", "info", "--kb", str(built)], env=WIDE)
    assert result.exit_code == 0, result.output
    for text in ("hp/releases/2099-01-01", "2099AA", "INT_20990131", "MRCONSO.RRF", "concepts:SNOMEDCT=11", "artifacts: concepts"):
        assert text in result.stdout


def test_search_prints_ids_names_sources_and_scores(built):
    result = runner.invoke(app, ["kb", "search", "pleural effusion", "-k", "5", "--kb", str(built)], env=WIDE)
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if "│" in line]
    assert rows[0].split("│")[1].strip() == "HP:9000002"
    assert "SNOMEDCT:900000002000" in result.stdout and "UMLS:C9000002" in result.stdout and "100.0" in result.stdout


def test_search_restricted_to_a_source(built):
    result = runner.invoke(app, ["kb", "search", "pleural effusion", "--source", "icd10cm", "--kb", str(built)], env=WIDE)
    assert result.exit_code == 0, result.output
    ids = [line.split("│")[1].strip() for line in result.stdout.splitlines() if "│" in line]
    assert ids and all(i.startswith("ICD10CM:") for i in ids if i)


def test_show_resolves_alt_ids_and_prints_synonyms_codes_and_hierarchy(built):
    result = runner.invoke(app, ["kb", "show", "HP:9000012", "--kb", str(built)], env=WIDE)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "HP:9000012 resolves to HP:9000002" in out
    assert "synonym [ABBREVIATION]: PLEF" in out and "synonym [NARROW]: Bloody \"pleural\" effusion" in out
    assert "UMLS: C9000002" in out and "SNOMEDCT: 900000002000" in out and "ICD10CM: F10.0" in out
    assert "parent chain: HP:9000002 Pleural effusion > HP:9000001 Abnormality of the pleura" in out
    assert "children (1): HP:9000003 Chylothorax" in out


def test_unknown_id_is_one_line_and_exit_1(built):
    result = runner.invoke(app, ["kb", "show", "HP:1234567", "--kb", str(built)], env=WIDE)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: 'HP:1234567' is not in the knowledge base (neither a concept id nor a code of one)"
    assert "Traceback" not in result.output


def test_missing_kb_and_bad_config_are_one_line_errors(tmp_path):
    result = runner.invoke(app, ["kb", "info", "--kb", str(tmp_path / "none")], env=WIDE)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "no compiled knowledge base here" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - type: meddra\n", encoding="utf-8")
    result = runner.invoke(app, ["kb", "build", "--config", str(bad), "--out", str(tmp_path / "kb")], env=WIDE)
    assert result.exit_code == 1 and "unknown source type 'meddra'" in result.stderr
    assert "Traceback" not in result.output


def test_malformed_source_names_file_and_line(fixtures_dir, tmp_path):
    broken = tmp_path / "broken.obo"
    broken.write_text("[Term]\nname: no id\n", encoding="utf-8")
    config = tmp_path / "broken.yaml"
    config.write_text(f"sources:\n  - type: obo\n    path: {broken}\n", encoding="utf-8")
    result = runner.invoke(app, ["kb", "build", "--config", str(config), "--out", str(tmp_path / "kb")], env={"COLUMNS": "40"})
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {broken}:1: [Term] stanza without an 'id' tag"


@pytest.mark.parametrize("code,concept", [
    ("F10.0", "ICD10CM:F10.0"), ("f10.0", "ICD10CM:F10.0"), ("C9000002", "UMLS:C9000002"),
    ("900000002000", "SNOMEDCT:900000002000"), ("HP:9000002", "HP:9000002"),
])
def test_show_accepts_a_bare_code_or_a_cui(built, code, concept):
    result = runner.invoke(app, ["kb", "show", code, "--kb", str(built)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0 if code == concept else 1].startswith(concept)


def test_show_finds_a_cui_through_cross_references_in_a_kb_without_umls(fixtures_dir, tmp_path):
    config = tmp_path / "hpo-only.yaml"
    config.write_text(f"name: hpo-only\nsources:\n  - name: hpo\n    type: obo\n    path: {fixtures_dir / 'mini.obo'}\n", encoding="utf-8")
    out = tmp_path / "kb"
    assert runner.invoke(app, ["kb", "build", "--config", str(config), "--out", str(out)]).exit_code == 0
    result = runner.invoke(app, ["kb", "show", "C9000003", "--kb", str(out)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == ["C9000003 resolves to HP:9000003", "HP:9000003  Chylothorax  (HP; Phenotypic abnormality; group DISO)"]
