"""The shipped pipelines end to end on the default knowledge base."""

from __future__ import annotations

import json

import pytest
import spacy
from spacy.tokens import DocBin

import clinlink
from clinlink.errors import ConfigError

pytestmark = pytest.mark.slow

NOTE = (
    "HISTORY OF PRESENT ILLNESS: 60 year old woman with cough.\n"
    "FAMILY HISTORY: Father had diabetes mellitus.\n"
    "FINDINGS: No pleural effusion. Possible pneumonia in the right lower lobe. Cardiomegaly.\n"
)


def annotations(doc):
    """Entities with their extension values (DocBin restores lists as tuples: compare as JSON)."""
    return json.loads(json.dumps([
        (e.start_char, e.end_char, e.label_, e._.concept_id, e._.assertion, e._.historical, e._.section, e._.assertion_cues)
        for e in doc.ents
    ]))


@pytest.fixture(scope="module")
def nlp(default_kb):
    return clinlink.load(exclude=("linker",))


def test_acceptance_example_assertions_and_cues(nlp):
    doc = nlp("No pleural effusion. Mother had breast cancer. Possible pneumonia.")
    found = {e.text: (e._.concept_id, e._.assertion, [c[2].lower() for c in e._.assertion_cues]) for e in doc.ents}
    assert found["pleural effusion"][:2] == ("HP:0002202", "absent") and "no" in found["pleural effusion"][2]
    assert found["breast cancer"][0].startswith("HP:") and found["breast cancer"][1] == "family"
    assert found["breast cancer"][2] == ["mother"]
    assert found["pneumonia"][:2] == ("HP:0002090", "possible") and found["pneumonia"][2] == ["possible"]


def test_sections_drive_entity_section_and_family_default(nlp):
    doc = nlp(NOTE)
    by_text = {e.text.lower(): e for e in doc.ents}
    assert by_text["diabetes mellitus"]._.section == "family_history"
    assert by_text["diabetes mellitus"]._.assertion == "family"
    assert by_text["cardiomegaly"]._.section == "findings"
    assert by_text["cardiomegaly"]._.assertion == "present"


def test_to_disk_then_spacy_load_gives_identical_annotations(nlp, tmp_path):
    nlp.to_disk(tmp_path / "model")
    reloaded = spacy.load(tmp_path / "model")
    assert reloaded.pipe_names == nlp.pipe_names
    assert annotations(reloaded(NOTE)) == annotations(nlp(NOTE))
    assert annotations(clinlink.load(tmp_path / "model")(NOTE)) == annotations(nlp(NOTE))


def test_docbin_round_trip_keeps_extensions(nlp):
    docs = list(nlp.pipe([NOTE, "Possible pneumonia."]))
    data = DocBin(docs=docs, store_user_data=True).to_bytes()
    restored = list(DocBin().from_bytes(data).get_docs(nlp.vocab))
    assert [annotations(d) for d in restored] == [annotations(d) for d in docs]
    assert json.dumps(restored[0]._.sections) == json.dumps(docs[0]._.sections)


def test_section_headers_are_not_mentions(nlp):
    assert all("ILLNESS" not in e.text for e in nlp(NOTE).ents)


@pytest.mark.parametrize("name", ["clinical", "radiology", "phenotype"])
def test_every_shipped_pipeline_loads_and_runs(name, default_kb):
    doc = clinlink.load(name, exclude=("linker",))("Small left pleural effusion. No pneumothorax.")
    assert doc.ents and all(e._.concept_id for e in doc.ents)


def test_phenotype_pipeline_keeps_to_the_phenotypic_abnormality_subtree(default_kb):
    doc = clinlink.load("phenotype", exclude=("linker",))("Severe seizures with autosomal dominant inheritance.")
    ids = [e._.concept_id for e in doc.ents]
    assert ids == ["HP:0001250"]
    assert all(default_kb.is_a(i, "HP:0000118") for i in ids)


def test_unknown_pipeline_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="no pipeline named 'nope'"):
        clinlink.load("nope")


def test_label_jobs_read_the_detectors_concepts_without_relinking_label_phrases(default_kb):
    """`clinlink label` / `index build` run the radiology pipeline without its linker, label phrases before assertion."""
    from clinlink.similarity.jobs import labelling_pipeline

    annotating = clinlink.load("radiology")
    labelling = labelling_pipeline("radiology", ["chestxray14"])
    assert "linker" in annotating.pipe_names and "linker" not in labelling.pipe_names
    assert labelling.pipe_names.index("label_phrases") < labelling.pipe_names.index("context")
    text = "Small left effusion. No pneumothorax. Calcified granuloma in the right upper lobe."
    linked = {(ent.start_char, ent.end_char): ent._.concept_id for ent in annotating(text).ents}
    labelled = {(ent.start_char, ent.end_char): (ent._.concept_id, ent._.assertion) for ent in labelling(text).ents}
    assert labelled[(11, 19)] == ("HP:0002202", "present")  # "effusion" in a chest report: pleural
    assert labelled[(24, 36)] == ("HP:0002107", "absent")
    assert {span: concept for span, (concept, _) in labelled.items()} == linked  # the detector's concepts, as linked
