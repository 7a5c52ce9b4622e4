"""A spaCy Doc as plain data: one record per document, one row per mention."""

from __future__ import annotations

import json
from typing import Any

from spacy.tokens import Doc, Span

ENTITY_FIELDS = (
    "start", "end", "text", "label", "section", "assertion", "historical",
    "concept_id", "concept_name", "score", "codes", "candidates", "assertion_cues",
)
# Nested values, stored as JSON text in tabular outputs (CSV, Parquet).
JSON_FIELDS = ("codes", "candidates", "assertion_cues")
MENTION_COLUMNS = ("id",) + ENTITY_FIELDS


def code_strings(entries: list | tuple | None) -> list[str]:
    """The codes of one vocabulary's ``span._.codes`` entries (``[code, name, score]``), in order."""
    return [str(entry[0]) if isinstance(entry, (list, tuple)) else str(entry) for entry in entries or ()]


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


def mention_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows (one per mention) with nested values as JSON text, for CSV and Parquet."""
    rows = []
    for entity in record["entities"]:
        row = {"id": record["id"]}
        for field in ENTITY_FIELDS:
            value = entity[field]
            row[field] = json.dumps(value, ensure_ascii=False) if field in JSON_FIELDS and value is not None else value
        rows.append(row)
    return rows
