"""What the local and Dask runners share: the pipeline cache, the annotation stream, shards, the summary."""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc

from clinlink.batch.inputs import NoteError, NoteInput, read_note
from clinlink.io.shards import OutputFolder, ResumeState, shard_name
from clinlink.io.writers import shard_writer
from clinlink.limits import MAX_NOTE_CHARS

log = logging.getLogger("clinlink.batch")

DEFAULT_MAX_CHARS = MAX_NOTE_CHARS
DEFAULT_SHARD_SIZE = 1_000
TEXT_EXCERPT = 200

Progress = Callable[[int], None]  # called with how many more notes are done


@dataclass(frozen=True)
class PipelineSpec:
    """How to build the pipeline (hashable, picklable: sent to Dask workers instead of the pipeline)."""

    name_or_path: str | None = None
    exclude: tuple[str, ...] = ()
    overrides: str = "{}"  # JSON of clinlink.load's per-component overrides

    @classmethod
    def of(cls, name_or_path: str | Path | None = None, exclude: Iterable[str] = (), **overrides: dict) -> PipelineSpec:
        return cls(None if name_or_path is None else str(name_or_path), tuple(exclude), json.dumps(overrides, sort_keys=True))

    def load(self) -> Language:
        from clinlink.pipeline import load

        return load(self.name_or_path, exclude=self.exclude, **json.loads(self.overrides))


_PIPELINES: dict[PipelineSpec, Language] = {}
_PIPELINES_LOCK = threading.Lock()
_LOADS: list[PipelineSpec] = []


def cached_pipeline(spec: PipelineSpec) -> Language:
    """The pipeline for ``spec``, built once per process (so once per Dask worker) and reused."""
    with _PIPELINES_LOCK:
        if spec not in _PIPELINES:
            _PIPELINES[spec] = spec.load()
            _LOADS.append(spec)
        return _PIPELINES[spec]


def pipeline_loads() -> int:
    """How many pipelines this process has built (1 per spec when the cache works)."""
    return len(_LOADS)


@dataclass(frozen=True)
class RunOptions:
    max_chars: int = DEFAULT_MAX_CHARS
    batch_size: int = 32
    n_process: int = 1
    shard_size: int = DEFAULT_SHARD_SIZE
    log_text: bool = False


@dataclass(frozen=True)
class BatchJob:
    """A run's input, the same for every engine: the notes, where they go, the pipeline and options."""

    notes: Iterable[NoteInput]
    folder: OutputFolder
    pipeline: PipelineSpec = PipelineSpec()
    options: RunOptions = RunOptions()
    resume: bool = False
    progress: Progress | None = None


@dataclass
class Outcome:
    """A note's result: a Doc, or the reason it was not annotated."""

    note: NoteInput
    doc: Doc | None = None
    error: str | None = None
    encoding: str = "utf-8"


class SkipFailedDoc:
    """spaCy error handler: a component that fails on a doc drops that doc (reported as an error) instead of the run."""

    def __init__(self, log_text: bool):
        self.log_text = log_text
        self.reasons: dict[int, str] = {}

    def __call__(self, component: str, _proc, docs: list[Doc], error: Exception) -> None:
        reason = f"pipeline error in {component or 'a worker process'}: {type(error).__name__}"
        for doc in docs or ():
            index = getattr(doc, "_context", None)
            if isinstance(index, int):
                self.reasons[index] = reason
        detail = f": {error}" if self.log_text else " (details hidden; --log-text shows them)"
        log.warning("%s%s", reason, detail)


def annotate_notes(nlp: Language, notes: Iterable[NoteInput], options: RunOptions) -> Iterator[Outcome]:
    """Every note's :class:`Outcome`: notes that cannot be read or break the pipeline become errors, the rest Docs."""
    nlp.max_length = max(nlp.max_length, options.max_chars + 1)
    handler = SkipFailedDoc(options.log_text)
    nlp.set_error_handler(handler)
    pending: deque[Outcome] = deque()  # errors found while feeding the pipeline
    submitted: deque[tuple[int, NoteInput, str]] = deque()

    def texts() -> Iterator[tuple[str, int]]:
        for index, note in enumerate(notes):
            try:
                text = read_note(note, options.max_chars)
            except NoteError as error:
                pending.append(Outcome(note, error=str(error)))
                continue
            if text.encoding != "utf-8":
                log.warning("%s: not UTF-8; decoded as %s", note.origin, text.encoding)
            submitted.append((index, note, text.encoding))
            yield text.text, index

    for doc, index in nlp.pipe(texts(), as_tuples=True, batch_size=options.batch_size, n_process=options.n_process):
        while pending:
            yield pending.popleft()
        while submitted and submitted[0][0] != index:  # dropped by the error handler
            lost_index, lost, _ = submitted.popleft()
            yield Outcome(lost, error=handler.reasons.get(lost_index, "pipeline error in a worker process"))
        _, note, encoding = submitted.popleft()
        yield Outcome(note, doc=doc, encoding=encoding)
    yield from pending
    for lost_index, lost, _ in submitted:
        yield Outcome(lost, error=handler.reasons.get(lost_index, "pipeline error in a worker process"))


def select_notes(notes: Iterable[NoteInput], state: ResumeState, summary: RunSummary) -> Iterator[NoteInput]:
    """Skips notes committed by an earlier run; a repeated id keeps its first note, later ones become errors."""
    seen = set(state.seen_ids)
    for note in notes:
        summary.inputs += 1
        if note.origin in state.done_origins:
            summary.skipped += 1
            continue
        if note.id in seen and not note.error:
            yield replace(note, error=f"duplicate id {note.id!r}: only the first note with this id is annotated")
            continue
        seen.add(note.id)
        yield note


@dataclass
class RunSummary:
    inputs: int = 0
    skipped: int = 0
    annotated: int = 0
    errors: int = 0
    mentions: int = 0
    fallback_decoded: int = 0
    shards: int = 0
    seconds: float = 0.0
    load_seconds: float = 0.0
    error_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def notes_per_second(self) -> float:
        """Annotated notes per second once the pipeline is loaded."""
        busy = self.seconds - self.load_seconds
        return self.annotated / busy if busy > 0 else 0.0

    def add(self, other: RunSummary) -> None:
        for name in ("annotated", "errors", "mentions", "fallback_decoded", "shards"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, count in other.error_reasons.items():
            self.error_reasons[reason] = self.error_reasons.get(reason, 0) + count


class Shard:
    """The notes of one output shard, written by the format's writer and committed together."""

    def __init__(self, folder: OutputFolder, index: int, log_text: bool = False):
        self.folder = folder
        self.name = shard_name(index)
        self.writer = shard_writer(folder.fmt, folder.path, self.name, folder.options)
        self.notes: list[tuple[str, str]] = []
        self.errors: list[dict[str, str]] = []
        self.summary = RunSummary(shards=1)
        self.log_text = log_text

    def __len__(self) -> int:
        return len(self.notes) + len(self.errors)

    def add(self, outcome: Outcome) -> None:
        note = outcome.note
        if outcome.error is not None:
            self.errors.append({"id": note.id, "origin": note.origin, "reason": outcome.error})
            self.writer.add_error(note.id, outcome.error)
            self.summary.errors += 1
            kind = outcome.error.split(":")[0]
            self.summary.error_reasons[kind] = self.summary.error_reasons.get(kind, 0) + 1
            excerpt = f" text={(note.text or '')[:TEXT_EXCERPT]!r}" if self.log_text and note.text else ""
            log.warning("%s (id %s): not annotated: %s%s", note.origin, note.id, outcome.error, excerpt)
            return
        self.writer.add(note.id, outcome.doc)
        self.notes.append((note.id, note.origin))
        self.summary.annotated += 1
        self.summary.mentions += len(outcome.doc.ents)
        self.summary.fallback_decoded += outcome.encoding != "utf-8"

    def commit(self) -> RunSummary:
        files = self.writer.commit()
        self.folder.commit(self.name, files, self.notes, self.errors)
        log.info("%s: committed %d notes, %d errors", self.name, len(self.notes), len(self.errors))
        return self.summary
