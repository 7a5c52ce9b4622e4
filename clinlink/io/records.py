"""A spaCy Doc as plain data: one record per document, one row per mention."""

from __future__ import annotations

import json
from typing import Any

from spacy.tokens import Doc, Span

ENTITY_FIELDS = (
    "start", "end", "text", "label", "section", "assertion", "historical", "resolved",
    "concept_id", "concept_name", "score", "codes", "candidates", "assertion_cues",
)
# Nested values: JSON text in CSV, maps and lists of structs in Parquet.
JSON_FIELDS = ("codes", "candidates", "assertion_cues")
MENTION_COLUMNS = ("id",) + ENTITY_FIELDS


def code_strings(entries: list | tuple | None) -> list[str]:
    """The codes of one vocabulary's ``span._.codes`` entries (``[code, name, score]``), in order."""
    return [str(entry[0]) if isinstance(entry, (list, tuple)) else str(entry) for entry in entries or ()]


def code_entry(entry: list | tuple | str) -> dict[str, Any]:
    """One ``span._.codes`` entry (``[code, name, score]``; a cross-reference has no score) as a struct."""
    if not isinstance(entry, (list, tuple)):
        return {"code": str(entry), "name": None, "score": None}
    name = entry[1] if len(entry) > 1 else None
    score = entry[2] if len(entry) > 2 else None
    return {"code": str(entry[0]), "name": name, "score": None if score is None else float(score)}


def entity_record(span: Span) -> dict[str, Any]:
    """One mention: character offsets, label, section, assertion and linked concept."""
    ext = span._  # one accessor for all the extension reads
    score = ext.score
    return {
        "start": span.start_char,
        "end": span.end_char,
        "text": span.text,
        "label": span.label_,
        "section": ext.section,
        "assertion": ext.assertion,
        "historical": bool(ext.historical),
        "resolved": bool(ext.resolved),
        "concept_id": ext.concept_id,
        "concept_name": ext.concept_name,
        "score": None if score is None else round(float(score), 4),
        "codes": ext.codes,
        "candidates": ext.candidates,
        "assertion_cues": ext.assertion_cues,
    }


def doc_record(doc_id: str, doc: Doc) -> dict[str, Any]:
    """One document: id, text, sections, entities, the document's codes (``doc._.codes``, when the pipeline
    links) and the concept set (when the pipeline makes one)."""
    record: dict[str, Any] = {
        "id": doc_id,
        "text": doc.text,
        "sections": doc._.sections or [],
        "entities": [entity_record(span) for span in doc.ents],
    }
    if doc._.codes is not None:
        record["codes"] = doc._.codes
    if doc._.concept_set is not None:
        record["concept_set"] = doc._.concept_set
    return record


ASSERTIONS = ("present", "absent", "possible", "conditional", "hypothetical", "family")
NOTE_COLUMNS = ("id", "status", "error", "chars", "mentions", *ASSERTIONS, "historical")


def note_row(record: dict[str, Any] | None, note_id: str, error: str | None = None) -> dict[str, Any]:
    """One row of the notes table: status (annotated / error), size and mention counts per assertion."""
    entities = record["entities"] if record else []
    row: dict[str, Any] = {
        "id": note_id,
        "status": "error" if error is not None else "annotated",
        "error": error,
        "chars": len(record["text"]) if record else None,
        "mentions": len(entities) if record else None,
    }
    for assertion in ASSERTIONS:
        row[assertion] = sum(entity["assertion"] == assertion for entity in entities) if record else None
    row["historical"] = sum(bool(entity["historical"]) for entity in entities) if record else None
    return row


def mention_rows(record: dict[str, Any], nested: bool = True) -> list[dict[str, Any]]:
    """One row per mention. ``nested``: codes as {vocabulary: [{code, name, score}]}, candidates and cues as lists of
    dicts (Parquet maps and structs); otherwise those values as JSON text (CSV)."""
    rows = []
    for entity in record["entities"]:
        row = {"id": record["id"]}
        for field in ENTITY_FIELDS:
            value = entity[field]
            if nested:
                value = _nested(field, value)
            elif field in JSON_FIELDS and value is not None:
                value = json.dumps(value, ensure_ascii=False)
            row[field] = value
        rows.append(row)
    return rows


def _nested(field: str, value: Any) -> Any:
    if value is None:
        return None
    if field == "candidates":
        return [{"concept_id": c[0], "name": c[1], "score": None if c[2] is None else float(c[2])} for c in value]
    if field == "assertion_cues":
        return [{"start": int(c[0]), "end": int(c[1]), "cue": c[2], "category": c[3]} for c in value]
    if field == "codes":
        return {vocabulary: [code_entry(entry) for entry in entries or ()] for vocabulary, entries in value.items()}
    return value
