"""``note_bundle``: one annotation record -> a FHIR R4 Bundle that validates with the fhir.resources R4B models."""

from __future__ import annotations

import pytest

from clinlink.io.fhir import note_bundle
from clinlink.io.records import doc_record


def validate(bundle: dict) -> list[dict]:
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)
    resources = [entry["resource"] for entry in bundle["entry"]]
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resources


def entity(text: str, start: int, assertion: str, concept_id: str | None = None, codes: dict | None = None, cues=()) -> dict:
    return {
        "start": start, "end": start + len(text), "text": text, "label": "DISO", "section": None, "assertion": assertion,
        "historical": False, "concept_id": concept_id, "concept_name": "Name" if concept_id else None, "score": None,
        "codes": codes, "candidates": None, "assertion_cues": [list(cue) for cue in cues],
    }


def test_codings_in_every_vocabulary_and_the_concepts_name_on_its_own_code():
    codes = {"HPO": ["HP:0002202"], "ICD10CM": ["J90"], "SNOMEDCT": ["60046008"], "UMLS": ["C0032227"], "MESH": ["D010996"]}
    record = {"id": "n1", "text": "Pleural effusion.", "entities": [entity("Pleural effusion", 0, "present", "ICD10CM:J90", codes)]}
    _, condition = validate(note_bundle(record))
    assert condition["code"]["coding"] == [
        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J90", "display": "Name"},
        {"system": "http://snomed.info/sct", "code": "60046008"},
        {"system": "http://human-phenotype-ontology.org", "code": "HP:0002202"},
        {"system": "http://www.nlm.nih.gov/research/umls", "code": "C0032227"},
    ]
    assert condition["code"]["text"] == "Pleural effusion"


@pytest.mark.parametrize("assertion,kind,status", [
    ("present", "Condition", "confirmed"), ("possible", "Condition", "provisional"), ("absent", "Condition", "refuted"),
    ("family", "FamilyMemberHistory", None), ("hypothetical", None, None), ("conditional", None, None),
])
def test_each_assertion_gets_its_resource(assertion, kind, status):
    record = {"id": "n1", "text": "x asthma", "entities": [entity("asthma", 2, assertion, "HP:0002099")]}
    resources = validate(note_bundle(record))
    assert resources[0]["resourceType"] == "DocumentReference"
    assert [r["resourceType"] for r in resources[1:]] == ([kind] if kind else [])
    if status:
        assert resources[1]["verificationStatus"]["coding"][0]["code"] == status
        assert resources[1]["evidence"][0]["detail"][0]["reference"] == f"urn:uuid:{resources[0]['id']}"


def test_family_relationship_comes_from_the_cue_and_nil_mentions_keep_their_text():
    text = "Her brother's asthma. Sister: eczema. No rash."
    record = {"id": "n2", "text": text, "entities": [
        entity("asthma", 14, "family", "HP:0002099", cues=[(4, 13, "brother's", "family")]),
        entity("eczema", 30, "family", None, cues=[(22, 28, "family member", "family")]),
        entity("rash", 41, "absent"),
    ]}
    _, brother, relative, rash = validate(note_bundle(record))
    assert brother["relationship"]["coding"][0]["code"] == "BRO" and relative["relationship"]["coding"][0]["code"] == "FAMMEMB"
    assert rash["code"] == {"text": "rash"}


def test_ids_are_stable_and_the_record_from_a_doc_converts(annotated_doc):
    record = doc_record("n1", annotated_doc)
    first, second = note_bundle(record), note_bundle(record)
    assert first == second and len({entry["fullUrl"] for entry in first["entry"]}) == 4
    resources = validate(first)
    assert [r["resourceType"] for r in resources] == ["DocumentReference", "Condition", "Condition", "FamilyMemberHistory"]
    assert resources[1]["extension"][0]["extension"][0] == {"url": "text", "valueString": "pleural\neffusion"}


@pytest.mark.parametrize("historical,resolved,status", [(False, False, "active"), (True, False, None), (False, True, "resolved"), (True, True, "resolved")])
def test_clinical_status_of_present_conditions_follows_the_temporality(historical, resolved, status):
    mention = {**entity("headache", 0, "present", "HP:0002315"), "historical": historical, "resolved": resolved}
    _, condition = validate(note_bundle({"id": "n1", "text": "headache resolved", "entities": [mention]}))
    found = condition.get("clinicalStatus", {}).get("coding", [{}])[0].get("code")
    assert found == status
    assert {"url": "resolved", "valueBoolean": resolved} in condition["extension"][0]["extension"]


def test_codes_linked_per_vocabulary_give_the_same_codings_as_bare_codes():
    """``span._.codes`` entries are ``[code, name, score]`` (cross-references without a score) or bare codes."""
    bare = {"ICD10CM": ["R31.9"], "UMLS": ["C0018965"]}
    linked = {"ICD10CM": [["R31.9", "Hematuria, unspecified", 0.93]], "UMLS": [["C0018965", None, None]]}
    codings = []
    for codes in (bare, linked):
        record = {"id": "n1", "text": "Hematuria.", "entities": [entity("Hematuria", 0, "present", "HP:0000790", codes)]}
        codings.append(validate(note_bundle(record))[1]["code"]["coding"])
    assert codings[0] == codings[1] and {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "R31.9"} in codings[1]
