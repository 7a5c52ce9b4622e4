"""The API's request and response shapes (pydantic), for validation and the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Any, Union

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="The note's text.")
    id: str | None = Field(None, description="The record's id (default: 'note', or 'note-N' in a list).")


class NoteRequest(Note):
    """One note: answered with one record."""

    pipeline: str | None = Field(None, description="A pipeline this server runs (GET /pipelines); default: its first.")


class NotesRequest(BaseModel):
    """Several notes, annotated together: answered with their records (and the notes that failed)."""

    model_config = ConfigDict(extra="forbid")
    notes: list[Note] = Field(min_length=1)
    pipeline: str | None = Field(None, description="A pipeline this server runs (GET /pipelines); default: its first.")


def _request_kind(value: Any) -> str:
    return "notes" if isinstance(value, dict) and "notes" in value else "note"


AnnotateRequest = Annotated[
    Union[Annotated[NoteRequest, Tag("note")], Annotated[NotesRequest, Tag("notes")]], Discriminator(_request_kind)
]
REQUEST = TypeAdapter(AnnotateRequest)


class Mention(BaseModel):
    """One mention, as in ``clinlink annotate``'s JSONL."""

    start: int
    end: int
    text: str
    label: str
    section: str | None
    assertion: str | None
    historical: bool
    concept_id: str | None
    concept_name: str | None
    score: float | None
    codes: dict[str, list[str]] | None = Field(description="Codes of the concept per vocabulary (UMLS, SNOMEDCT, ICD10CM, HPO).")
    candidates: list[list[Any]] | None = Field(description="[[concept_id, name, score], ...] best first.")
    assertion_cues: list[list[Any]] | None = Field(description="[[start, end, cue, category], ...] that decided the assertion.")


class Record(BaseModel):
    """One note's annotations: the record ``clinlink annotate`` writes as a JSONL line."""

    id: str
    text: str
    sections: list[list[Any]] = Field(description="[[start, end, name, header], ...].")
    entities: list[Mention]
    concept_set: dict[str, Any] | None = None


class NoteError(BaseModel):
    id: str
    reason: str


class Records(BaseModel):
    records: list[Record] = Field(description="Records of the notes annotated, in request order (FHIR: 'bundles').")
    errors: list[NoteError] = Field(description="Notes not annotated, with the reason.")


class Concept(BaseModel):
    """The knowledge base's view of a concept."""

    id: str
    name: str
    source: str
    group: str
    semantic_types: list[str]
    definition: str | None
    synonyms: list[dict[str, str]] = Field(description="[{name, kind}, ...].")
    codes: dict[str, list[str]]
    parents: list[dict[str, str]] = Field(description="[{id, name}, ...] of the direct parents.")


class Pipeline(BaseModel):
    name: str
    description: str
    components: list[str]
    default: bool


class Problem(BaseModel):
    detail: str = Field(description="The reason, in one line.")


def validation_message(error: ValidationError | RequestValidationError) -> str:
    """One line naming each invalid field: ``notes.0.text: Field required``."""
    parts = []
    items = error.errors(include_input=False, include_url=False) if isinstance(error, ValidationError) else error.errors()
    for item in items:
        where = ".".join(str(part) for part in item["loc"][1:])  # loc[0] is the request kind's tag
        parts.append(f"{where or 'body'}: {item['msg']}")
    return "; ".join(dict.fromkeys(parts))
