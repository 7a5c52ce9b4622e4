import pytest

import clinlink
from clinlink.kb import load_kb


@pytest.mark.slow
def test_plain_phrases_link_to_their_hpo_concepts(default_linker):
    linker = clinlink.Linker.from_kb(load_kb())  # loads the indexes the session fixture built
    assert len(linker.table) == len(default_linker.table)
    heart, fluid = linker.link(["enlarged heart", "fluid around the lung"])
    assert heart[0].concept_id == "HP:0001640"
    assert fluid[0].concept_id == "HP:0002202"
    assert linker.codes("HP:0002202")["UMLS"] == ["C0032227"]
    (icd,) = linker.link(["fluid around the lung"], sources=["ICD10CM"], k=10, nil_threshold=0.0)
    assert icd and all(c.concept_id.startswith("ICD10CM:") for c in icd)
    (phenotype,) = linker.link(["autosomal dominant"], within="HP:0000118", k=5)
    assert all(linker.kb.is_a(c.concept_id, "HP:0000118") for c in phenotype)
