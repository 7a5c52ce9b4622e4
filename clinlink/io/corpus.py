"""Annotation records in the formats of biomedical corpora: BioC (XML, the ``bioc`` package) and PubTator.

BioC: one document per note with one passage (offset 0) holding the note text; one annotation
per mention with its location and text, and infons ``type`` (the label), ``identifier`` (the
linked concept), ``concept_name``, ``assertion``, ``historical``, ``section``, ``score`` and one
infon per vocabulary (``ICD10CM``, ``SNOMEDCT``, ``HPO``, ``UMLS``: comma-separated codes).

PubTator: ``id|t|first line`` and ``id|a|rest`` (line breaks become spaces, so offsets into
title + one separator + abstract are the note's own), then ``id start end text type concept``
lines. PubTator has no column for assertions: use BioC or JSONL to keep them.
"""

from __future__ import annotations

from typing import Any

from clinlink.io.records import code_strings

BIOC_SOURCE = "clinlink"


def bioc_document(record: dict[str, Any]):
    """The :class:`bioc.BioCDocument` of one annotation record."""
    from bioc import BioCAnnotation, BioCDocument, BioCLocation, BioCPassage

    document = BioCDocument()
    document.id = str(record["id"])
    passage = BioCPassage()
    passage.offset = 0
    passage.text = record["text"]
    for number, entity in enumerate(record["entities"], start=1):
        annotation = BioCAnnotation()
        annotation.id = f"T{number}"
        annotation.text = entity["text"]
        annotation.add_location(BioCLocation(entity["start"], entity["end"] - entity["start"]))
        annotation.infons.update(annotation_infons(entity))
        passage.add_annotation(annotation)
    document.add_passage(passage)
    return document


def annotation_infons(entity: dict[str, Any]) -> dict[str, str]:
    infons = {"type": entity["label"], "assertion": entity["assertion"] or "present", "historical": str(bool(entity["historical"])).lower()}
    optional = {"identifier": entity["concept_id"], "concept_name": entity["concept_name"], "section": entity["section"]}
    infons.update({key: str(value) for key, value in optional.items() if value})
    if entity["score"] is not None:
        infons["score"] = f"{float(entity['score']):.4f}"
    for vocabulary, codes in (entity["codes"] or {}).items():
        if codes:
            infons[vocabulary] = ",".join(code_strings(codes))
    return infons


def bioc_collection(documents: list) -> Any:
    from bioc import BioCCollection

    collection = BioCCollection()
    collection.source = BIOC_SOURCE
    collection.key = "clinlink.key"
    for document in documents:
        collection.add_document(document)
    return collection


def pubtator_document(record: dict[str, Any]) -> str:
    """One PubTator block (ending with a blank line) for an annotation record."""
    note_id = _field(str(record["id"])).replace("|", "_")
    text = record["text"].replace("\r", " ").replace("\t", " ")
    title, newline, abstract = text.partition("\n")
    lines = [f"{note_id}|t|{title}"]
    if newline:
        lines.append(f"{note_id}|a|{abstract.replace(chr(10), ' ')}")
    for entity in record["entities"]:
        lines.append("\t".join([note_id, str(entity["start"]), str(entity["end"]), _field(entity["text"]), _field(entity["label"]), entity["concept_id"] or ""]))
    return "\n".join(lines) + "\n\n"


def _field(value: str) -> str:
    return " ".join(value.split("\t")).replace("\n", " ").replace("\r", " ")
