"""Queries over the KB compiled from all four fixture sources: code projection, hierarchy, ids, filters."""

from __future__ import annotations

from clinlink.kb.search import NameSearch


def test_hpo_term_projects_to_umls_snomed_and_icd(fixture_kb):
    xrefs = fixture_kb.xrefs("HP:9000002")
    assert {"UMLS:C9000002", "SNOMEDCT:900000002000", "MESH:D900002", "ICD10CM:F10.0", "ICD10:F10.9"} <= set(xrefs)
    assert "HP:9000002" not in xrefs


def test_umls_cui_reported_as_its_source_codes(fixture_kb):
    codes = fixture_kb.codes("UMLS:C9000002")
    assert codes["UMLS"] == ["C9000002"]
    assert codes["HPO"] == ["HP:9000002"]
    assert codes["SNOMEDCT"] == ["900000002000"]
    assert "F10.0" in codes["ICD10CM"]
    assert codes["MESH"] == ["D900002"]


def test_snomed_and_icd_concepts_reach_the_cui_and_hpo(fixture_kb):
    snomed = fixture_kb.codes("SNOMEDCT:900000002000")
    assert snomed["UMLS"] == ["C9000002"] and snomed["HPO"] == ["HP:9000002"]
    icd = fixture_kb.codes("ICD10CM:F10.0")
    assert "C9000002" in icd["UMLS"] and "HP:9000002" in icd["HPO"] and "900000002000" in icd["SNOMEDCT"]
    assert fixture_kb.codes("ICD10CM:F20")["UMLS"] == ["C9000004"]


def test_concepts_with_xref_accepts_any_prefix_spelling(fixture_kb):
    assert fixture_kb.concepts_with_xref("UMLS:C9000002") == ["HP:9000002"]
    assert sorted(fixture_kb.concepts_with_xref("SNOMEDCT_US:900000002000")) == ["HP:9000002", "UMLS:C9000002"]
    assert fixture_kb.concepts_with_xref("ICD10CM:F10.0") == ["UMLS:C9000002", "SNOMEDCT:900000002000"]


def test_hierarchies_of_every_source(fixture_kb):
    assert fixture_kb.ancestors("UMLS:C9000003") == {"UMLS:C9000002", "UMLS:C9000001"}
    assert fixture_kb.ancestors("SNOMEDCT:900000003000") == {
        "SNOMEDCT:900000002000", "SNOMEDCT:900000001000", "SNOMEDCT:910000001000",
    }
    assert fixture_kb.children("SNOMEDCT:910000001000") == [
        "SNOMEDCT:900000001000", "SNOMEDCT:900000004000", "SNOMEDCT:900000005000",
    ]
    assert fixture_kb.depth("SNOMEDCT:900000004000") == 2  # longest path: via 900000005000
    assert fixture_kb.is_a("HP:9000003", "HP:0000118")
    assert fixture_kb.descendants("ICD10CM:chapter-19") == {
        "ICD10CM:G30-G39", "ICD10CM:G30", "ICD10CM:G30.1", "ICD10CM:G30.11",
        "ICD10CM:G30.11XA", "ICD10CM:G30.11XD", "ICD10CM:G30.11XS",
    }


def test_alt_and_obsolete_ids_resolve(fixture_kb):
    assert fixture_kb.get("HP:9000012").id == "HP:9000002"
    assert fixture_kb.get("HP:9000004").id == "HP:9000002"
    assert fixture_kb.get("SNOMEDCT:900000009000").id == "SNOMEDCT:900000002000"
    retired = fixture_kb.get("HP:9000005")  # obsolete without replacement: itself
    assert retired.obsolete and retired.metadata["consider"] == ["HP:9000001", "HP:9000002"]
    assert fixture_kb.find("HP:1234567") is None


def test_names_lookup_across_sources(fixture_kb):
    assert set(fixture_kb.lookup("Pleural Effusions")) == {"HP:9000002", "UMLS:C9000002", "SNOMEDCT:900000002000"}
    assert "UMLS:C9000002" in fixture_kb.lookup("plef")


def test_filter_by_group_semantic_type_and_source(fixture_kb):
    assert {c.id for c in fixture_kb.filter(groups=["ANAT"])} == {"UMLS:C9000006", "SNOMEDCT:900000006000"}
    assert [c.id for c in fixture_kb.filter(semantic_types=["T061"])] == ["UMLS:C9000007"]
    assert [c.id for c in fixture_kb.filter(semantic_types=["procedure"], sources=["snomedct"])] == ["SNOMEDCT:900000007000"]


def test_obsolete_concepts_are_not_indexed_names(fixture_kb):
    ids = {concept_id for _, concept_id in fixture_kb.iter_names()}
    assert "SNOMEDCT:900000009000" not in ids and "HP:9000004" not in ids
    assert "ICD10CM:G30.11XA" not in ids  # 7th-character codes stay out of name indexes
    umls_names = {name for name, _ in fixture_kb.iter_names(sources=["umls"])}
    assert "Pleural Effusion, Fixture" in umls_names and "Pleural disorder" in umls_names


def test_name_search_ranks_exact_then_fuzzy(fixture_kb):
    exact = NameSearch(fixture_kb).search("pleural effusion", k=5)
    assert {m.concept_id for m in exact[:3]} == {"HP:9000002", "UMLS:C9000002", "SNOMEDCT:900000002000"}
    assert exact[0].score == 100.0
    typo = NameSearch(fixture_kb, sources=["HP"]).search("plueral efusion", k=3)
    assert typo[0].concept_id == "HP:9000002" and typo[0].score < 100
