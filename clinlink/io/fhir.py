"""One annotation record as a FHIR R4 Bundle (JSON-ready dict).

The Bundle (type ``collection``) holds a DocumentReference for the note (its text as a
base64 attachment) and one resource per mention about the patient or a relative:

* present, possible and absent mentions become a **Condition** (not an Observation: the
  mentions are disorders and phenotypic findings the note asserts or denies, which is what
  Condition.verificationStatus says: confirmed, provisional, refuted). Present mentions are
  ``resolved`` when the note says so, else ``active`` unless historical; possible, absent and
  historical ones carry no clinicalStatus.
* family mentions become a **FamilyMemberHistory** whose relationship comes from the cue that
  made the mention a family one (mother -> MTH, ..., else FAMMEMB).
* hypothetical and conditional mentions assert nothing about anyone and are left out.

Each resource is coded in every vocabulary the mention has (ICD-10-CM, SNOMED CT, HPO, UMLS),
keeps the mention's words as ``code.text``, points at the DocumentReference, and carries the
mention extension (text, character offsets, section, assertion, historical flag, score).
The patient is unknown to clinlink: ``subject`` / ``patient`` are display-only references.
Ids are stable (UUID 5 of the note id and the mention's offsets), so re-annotating a note
gives the same resource ids.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from clinlink.io.records import code_strings

SYSTEMS = {
    "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "SNOMEDCT": "http://snomed.info/sct",
    "HPO": "http://human-phenotype-ontology.org",
    "UMLS": "http://www.nlm.nih.gov/research/umls",
}
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
MENTION_EXTENSION = "urn:clinlink:fhir:StructureDefinition:mention"
NOTE_ID_SYSTEM = "urn:clinlink:note-id"
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:clinlink:fhir")

VERIFICATION = {"present": "confirmed", "possible": "provisional", "absent": "refuted"}
# The relative named by a family cue -> HL7 v3 RoleCode.
RELATIVES = {
    "mother": ("MTH", "mother"), "father": ("FTH", "father"), "parent": ("PRN", "parent"),
    "sister": ("SIS", "sister"), "brother": ("BRO", "brother"), "sibling": ("SIB", "sibling"),
    "daughter": ("DAU", "natural daughter"), "son": ("SON", "natural son"), "child": ("CHILD", "child"),
    "grandmother": ("GRMTH", "grandmother"), "grandfather": ("GRFTH", "grandfather"),
    "grandparent": ("GRPRN", "grandparent"), "aunt": ("AUNT", "aunt"), "uncle": ("UNCLE", "uncle"),
    "cousin": ("COUSN", "cousin"), "niece": ("NIECE", "niece"), "nephew": ("NEPHEW", "nephew"),
}
FAMILY_MEMBER = ("FAMMEMB", "family member")


def note_bundle(record: dict[str, Any]) -> dict[str, Any]:
    """The FHIR R4 Bundle of one annotation record (the per-note dict of the JSONL output)."""
    note_id = str(record["id"])
    document_id = _stable_id(note_id, "note")
    entries = [_entry(document_id, document_reference(note_id, record.get("text") or ""))]
    for entity in record.get("entities", []):
        resource = mention_resource(note_id, entity, f"urn:uuid:{document_id}")
        if resource is not None:
            entries.append(_entry(_stable_id(note_id, f"{entity['start']}-{entity['end']}-{entity.get('concept_id')}"), resource))
    return {"resourceType": "Bundle", "id": _stable_id(note_id, "bundle"), "type": "collection", "entry": entries}


def document_reference(note_id: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "identifier": [{"system": NOTE_ID_SYSTEM, "value": note_id}],
        "status": "current",
        "content": [{"attachment": {
            "contentType": "text/plain; charset=utf-8",
            "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
        }}],
    }


def mention_resource(note_id: str, entity: dict[str, Any], document_url: str) -> dict[str, Any] | None:
    """A Condition or FamilyMemberHistory for one mention; None for hypothetical and conditional ones."""
    assertion = entity.get("assertion") or "present"
    code = codeable_concept(entity)
    if assertion == "family":
        code_entry: dict[str, Any] = {"code": code}
        return {
            "resourceType": "FamilyMemberHistory",
            "extension": [mention_extension(entity)],
            "status": "partial",
            "patient": {"display": f"the patient of note {note_id}"},
            "relationship": _relationship(entity),
            "condition": [code_entry],
        }
    if assertion not in VERIFICATION:
        return None
    condition: dict[str, Any] = {"resourceType": "Condition", "extension": [mention_extension(entity)]}
    if assertion == "present" and entity.get("resolved"):
        condition["clinicalStatus"] = _concept(CONDITION_CLINICAL, "resolved", "Resolved")
    elif assertion == "present" and not entity.get("historical"):
        condition["clinicalStatus"] = _concept(CONDITION_CLINICAL, "active", "Active")
    condition["verificationStatus"] = _concept(CONDITION_VERIFICATION, VERIFICATION[assertion], VERIFICATION[assertion].capitalize())
    condition["code"] = code
    condition["subject"] = {"display": f"the patient of note {note_id}"}
    condition["evidence"] = [{"detail": [{"reference": document_url}]}]
    return condition


def codeable_concept(entity: dict[str, Any]) -> dict[str, Any]:
    """Codings in every known vocabulary of the mention (the linked concept's own code first, with its name)."""
    concept_id = entity.get("concept_id")
    codes = {vocabulary: code_strings(entries) for vocabulary, entries in (entity.get("codes") or {}).items()}
    own = _own_code(concept_id)
    codings = []
    if own is not None and own[1] not in codes.get(own[0], []):
        codes = {**codes, own[0]: [own[1], *codes.get(own[0], [])]}
    for vocabulary, system in SYSTEMS.items():
        for code in codes.get(vocabulary, []):
            coding = {"system": system, "code": str(code)}
            if own == (vocabulary, str(code)) and entity.get("concept_name"):
                coding["display"] = entity["concept_name"]
            codings.append(coding)
    codings.sort(key=lambda coding: "display" not in coding)
    result: dict[str, Any] = {"text": " ".join(str(entity.get("text", "")).split())}
    if codings:
        result["coding"] = codings
    return result


def mention_extension(entity: dict[str, Any]) -> dict[str, Any]:
    """Where the mention is in the note and what clinlink decided about it."""
    parts: list[dict[str, Any]] = [
        {"url": "text", "valueString": str(entity["text"])},
        {"url": "start", "valueInteger": int(entity["start"])},
        {"url": "end", "valueInteger": int(entity["end"])},
        {"url": "assertion", "valueCode": entity.get("assertion") or "present"},
        {"url": "historical", "valueBoolean": bool(entity.get("historical"))},
        {"url": "resolved", "valueBoolean": bool(entity.get("resolved"))},
    ]
    if entity.get("section"):
        parts.append({"url": "section", "valueString": str(entity["section"])})
    if entity.get("concept_id"):
        parts.append({"url": "concept", "valueString": str(entity["concept_id"])})
    if entity.get("score") is not None:
        parts.append({"url": "score", "valueDecimal": float(entity["score"])})
    return {"url": MENTION_EXTENSION, "extension": parts}


def _own_code(concept_id: str | None) -> tuple[str, str] | None:
    """(vocabulary, code) of a KB concept id: ``HP:0002202`` -> HPO, ``ICD10CM:J90`` -> ICD10CM ``J90``."""
    if not concept_id:
        return None
    prefix, _, code = concept_id.partition(":")
    if prefix == "HP":
        return "HPO", concept_id
    if prefix in SYSTEMS and code:
        return prefix, code
    return None


def _relationship(entity: dict[str, Any]) -> dict[str, Any]:
    code, display = FAMILY_MEMBER
    for cue in entity.get("assertion_cues") or []:
        if len(cue) >= 4 and cue[3] == "family":
            words = str(cue[2]).lower().replace("'s", "").split()
            for word in words:
                if word.rstrip("s") in RELATIVES:
                    code, display = RELATIVES[word.rstrip("s")]
                    break
    return _concept(ROLE_CODE, code, display)


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _stable_id(note_id: str, part: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, note_id + "\x1f" + part))


def _entry(resource_id: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource_id}", "resource": {"resourceType": resource["resourceType"], "id": resource_id, **resource}}
