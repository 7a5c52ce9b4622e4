"""The FastAPI app: ``POST /annotate``, ``GET /health``, ``GET /pipelines``, ``GET /concepts/{id}`` and the page at ``/``.

Each worker process builds its pipelines once at start (and runs a short note through them), then answers
requests through one :class:`~clinlink.serve.batcher.MicroBatcher` per pipeline. Records are the ones
``clinlink annotate`` writes (:func:`clinlink.io.records.doc_record`); ``?format=fhir`` turns each into a FHIR R4
Bundle (:func:`clinlink.io.fhir.note_bundle`). Logs name requests by size and id, never by note text.
"""

from __future__ import annotations

import json
import logging
import os
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import TypeAdapter, ValidationError
from spacy.language import Language

from clinlink.batch.core import PipelineSpec, RunOptions, cached_pipeline
from clinlink.batch.partitions import warm_up
from clinlink.kb.knowledge_base import KnowledgeBase
from clinlink.kb.shared import shared_kb
from clinlink.serve import schemas
from clinlink.serve.batcher import MicroBatcher, NoteResult, QueueFull
from clinlink.serve.page import page_html
from clinlink.serve.security import KEY_HEADER, body_limit, key_checker, read_body
from clinlink.serve.settings import ServeSettings

log = logging.getLogger("clinlink.serve")
PROBLEM = {"model": schemas.Problem}


class OutputFormat(str, Enum):
    json = "json"
    fhir = "fhir"


@dataclass
class ServedPipeline:
    """A pipeline this worker runs: its name in requests, the names it answers to, its batcher."""

    name: str
    aliases: tuple[str, ...]
    nlp: Language
    batcher: MicroBatcher
    default: bool

    def kb(self) -> KnowledgeBase:
        """The knowledge base its components name (the process's shared copy)."""
        for name in self.nlp.pipe_names:
            config = self.nlp.get_pipe_config(name)
            if "kb" in config:
                return shared_kb(config["kb"])
        raise HTTPException(404, f"pipeline {self.name!r} has no knowledge base")


class Service:
    """The pipelines of one worker process."""

    def __init__(self, settings: ServeSettings):
        options = RunOptions(max_chars=settings.max_chars, batch_size=settings.batch_size)
        self.pipelines: list[ServedPipeline] = []
        for position, name_or_path in enumerate(settings.pipelines):
            spec = PipelineSpec.of(name_or_path, settings.exclude)
            warm_up(spec)
            nlp = cached_pipeline(spec)
            name = str(nlp.meta.get("name") or name_or_path)
            batcher = MicroBatcher(nlp, options, settings.batch_wait_ms / 1000, settings.queue_size)
            aliases = tuple(dict.fromkeys(alias for alias in (name, name_or_path) if alias))
            self.pipelines.append(ServedPipeline(name, aliases, nlp, batcher, position == 0))

    def get(self, name: str | None) -> ServedPipeline:
        if name is None:
            return self.pipelines[0]
        for pipeline in self.pipelines:
            if name in pipeline.aliases:
                return pipeline
        known = ", ".join(pipeline.name for pipeline in self.pipelines)
        raise HTTPException(422, f"pipeline {name!r} is not served here; served: {known}")

    def close(self) -> None:
        for pipeline in self.pipelines:
            pipeline.batcher.close()


def create_app(settings: ServeSettings) -> FastAPI:
    """The app for ``settings``; its pipelines load when the server starts it (lifespan)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        started = time.perf_counter()
        app.state.service = Service(settings)
        names = ", ".join(pipeline.name for pipeline in app.state.service.pipelines)
        log.info("worker %d: pipeline %s loaded in %.1f s", os.getpid(), names, time.perf_counter() - started)
        yield
        app.state.service.close()

    app = FastAPI(
        title="clinlink",
        summary="Clinical free text to ontology concepts: mentions with assertion and codes (HPO, ICD-10-CM, UMLS, SNOMED CT).",
        version=_version(),
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load from a CDN; the schema is at /openapi.json
        redoc_url=None,
        openapi_url=None,  # served below, behind the key
    )
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"], allow_headers=["*"])
    guard = [Depends(key_checker(settings.api_key))] if settings.api_key else []
    limit = body_limit(settings.max_chars)

    @app.get("/health", tags=["service"], summary="Liveness, without the API key")
    def health(request: Request) -> dict[str, Any]:
        stats = [pipeline.batcher.stats for pipeline in request.app.state.service.pipelines]
        return {"status": "ok", "pid": os.getpid(), "notes": sum(s.notes for s in stats), "batches": sum(s.batches for s in stats)}

    @app.get("/pipelines", tags=["service"], dependencies=guard, summary="The pipelines this server runs")
    def pipelines(request: Request) -> list[schemas.Pipeline]:
        return [
            schemas.Pipeline(name=p.name, description=str(p.nlp.meta.get("description", "")), components=p.nlp.pipe_names, default=p.default)
            for p in request.app.state.service.pipelines
        ]

    @app.post(
        "/annotate", tags=["annotate"], dependencies=guard, response_model=None,
        summary="Annotate one note or a list of notes",
        description=(
            'Body: `{"text": ..., "id": ..., "pipeline": ...}` (one note: answered with its record) or '
            '`{"notes": [{"text": ..., "id": ...}, ...], "pipeline": ...}` (answered with `records` and `errors`). '
            "Records are the JSONL lines of `clinlink annotate`; `?format=fhir` answers FHIR R4 Bundles instead. "
            "The body is read as JSON whatever its Content-Type."
        ),
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AnnotateRequest"}}}}},
        responses={
            200: {"content": {"application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/Record"}, {"$ref": "#/components/schemas/Records"}]}}}},
            401: PROBLEM, 413: PROBLEM, 422: PROBLEM, 500: PROBLEM, 503: PROBLEM,
        },
    )
    async def annotate(request: Request, output: OutputFormat = Query(OutputFormat.json, alias="format")) -> Response:
        data = await read_body(request, limit)
        if b"\x00" in data:
            raise HTTPException(422, "body is binary (contains NUL bytes), not JSON")
        try:
            body = schemas.REQUEST.validate_json(data)
        except ValidationError as error:
            raise HTTPException(422, _body_problem(error)) from None
        single = isinstance(body, schemas.NoteRequest)
        notes = [body] if single else body.notes
        ids = [note.id or ("note" if single else f"note-{number}") for number, note in enumerate(notes, start=1)]
        chars = sum(len(note.text) for note in notes)
        if chars > settings.max_chars:
            raise HTTPException(413, f"request too large: {chars:,} characters of note text, more than --max-chars {settings.max_chars:,}")
        pipeline = request.app.state.service.get(body.pipeline)
        started = time.perf_counter()
        try:
            results = await pipeline.batcher.annotate([(note_id, note.text) for note_id, note in zip(ids, notes)])
        except QueueFull as busy:
            raise HTTPException(503, f"busy: {busy}; retry later", headers={"Retry-After": "1"}) from None
        log.info("annotated %d note(s), %d characters, with %s in %.0f ms", len(notes), chars, pipeline.name, 1000 * (time.perf_counter() - started))
        return _answer(results, single, output)

    @app.get(
        "/concepts/{concept_id}", tags=["knowledge base"], dependencies=guard, responses={404: PROBLEM},
        summary="A concept of the knowledge base: names, codes per vocabulary, parents",
    )
    def concept(
        request: Request,
        concept_id: str = Path(description="A concept id, alt id or obsolete id, e.g. HP:0002202."),
        pipeline: str | None = Query(None, description="Whose knowledge base (default: the first pipeline's)."),
    ) -> schemas.Concept:
        kb = request.app.state.service.get(pipeline).kb()
        found = kb.find(concept_id)
        if found is None:
            raise HTTPException(404, f"{concept_id!r} is not in the knowledge base")
        return schemas.Concept(
            id=found.id, name=found.name, source=found.source, group=found.group, semantic_types=found.semantic_types,
            definition=found.definition, synonyms=[{"name": s.name, "kind": s.kind} for s in found.synonyms],
            codes=kb.codes(found.id), parents=[{"id": parent, "name": kb.get(parent).name} for parent in found.parents if parent in kb],
        )

    @app.get("/", include_in_schema=False, dependencies=guard)
    def page() -> HTMLResponse:
        return HTMLResponse(page_html())

    @app.get("/openapi.json", include_in_schema=False, dependencies=guard)
    def openapi() -> JSONResponse:
        return JSONResponse(_schema(app, keyed=bool(settings.api_key)))

    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(_request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": f"invalid request: {schemas.validation_message(error)}"}, status_code=422)

    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn calls in each worker process (settings from :data:`~clinlink.serve.settings.SETTINGS_ENV`)."""
    return create_app(ServeSettings.from_env())


def _answer(results: list[NoteResult], single: bool, output: OutputFormat) -> Response:
    if output is OutputFormat.fhir:
        from clinlink.io.fhir import note_bundle

        convert, key = note_bundle, "bundles"
    else:
        convert, key = (lambda record: record), "records"
    if single:
        result = results[0]
        if result.error is not None:
            raise HTTPException(500, f"note {result.id!r} not annotated: {result.error}")
        payload: Any = convert(result.record)
    else:
        payload = {
            key: [convert(result.record) for result in results if result.error is None],
            "errors": [{"id": result.id, "reason": result.error} for result in results if result.error is not None],
        }
    return Response(json.dumps(payload, ensure_ascii=False), media_type="application/json")


def _body_problem(error: ValidationError) -> str:
    if error.errors()[0]["type"] == "json_invalid":
        return f"body is not JSON: {error.errors(include_input=False)[0]['ctx']['error']}"
    return f"invalid request: {schemas.validation_message(error)}"


def _schema(app: FastAPI, keyed: bool) -> dict[str, Any]:
    """FastAPI's OpenAPI schema plus the request and response models the /annotate route documents by reference
    (and the API key, when the server has one)."""
    if app.openapi_schema is None:
        schema = app.openapi()
        if keyed:
            schema.setdefault("components", {})["securitySchemes"] = {"apiKey": {"type": "apiKey", "in": "header", "name": KEY_HEADER}}
            schema["security"] = [{"apiKey": []}]
            schema["paths"]["/health"]["get"]["security"] = []
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, model in (("AnnotateRequest", schemas.REQUEST), ("Record", TypeAdapter(schemas.Record)), ("Records", TypeAdapter(schemas.Records))):
            definition = model.json_schema(ref_template="#/components/schemas/{model}")
            components.update(definition.pop("$defs", {}))
            components[name] = definition
    return app.openapi_schema


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("clinlink")
    except PackageNotFoundError:
        return "0"
