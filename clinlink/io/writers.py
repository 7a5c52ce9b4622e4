"""Shard writers: JSONL, Parquet, CSV, BRAT standoff, spaCy DocBin, FHIR R4, BioC, PubTator, OMOP NOTE_NLP.

A writer collects the documents of one shard and publishes them atomically in
:meth:`ShardWriter.commit` (temporary file, then ``os.replace``; one database transaction for
OMOP with ``--db``), so a reader never sees half a shard.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from spacy.tokens import Doc

from clinlink.errors import ConfigError
from clinlink.io.records import MENTION_COLUMNS, NOTE_COLUMNS, code_strings, doc_record, mention_rows, note_row

DOC_ID_KEY = "clinlink_id"  # doc.user_data key holding the note id in DocBin output
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def atomic_write(path: Path, write: Callable[[Path], Any]) -> Path:
    """Calls ``write(temporary_path)`` and renames the result to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


@dataclass(frozen=True)
class WriterOptions:
    """Format settings of a run (picklable: sent to every worker with the job)."""

    db: str | None = None  # omop: SQLAlchemy URL of the database holding NOTE_NLP
    omop_vocab: str | None = None  # omop: folder of an Athena export (CONCEPT.csv)
    nlp_system: str = "clinlink"  # omop: NOTE_NLP.nlp_system


class ShardWriter(ABC):
    """Collects the documents of one shard; :meth:`commit` publishes them and returns the files."""

    suffix = ""
    folders: tuple[str, ...] = ("",)  # where its shard files live, relative to the output folder

    def __init__(self, out_dir: Path, shard: str, options: WriterOptions = WriterOptions()):
        self.out_dir = out_dir
        self.shard = shard
        self.options = options

    @property
    def path(self) -> Path:
        return self.out_dir / f"{self.shard}{self.suffix}"

    @classmethod
    def prepare(cls, options: WriterOptions) -> None:
        """Checks the options once before a run (and creates what the shards need, such as a table)."""
        if options.db or options.omop_vocab:
            raise ConfigError("--db and --omop-vocab go with --format omop")

    @abstractmethod
    def add(self, doc_id: str, doc: Doc) -> None: ...

    def add_error(self, doc_id: str, reason: str) -> None:
        """A note of this shard that was not annotated (only the notes table records it)."""

    @abstractmethod
    def commit(self) -> list[Path]: ...


class JsonlWriter(ShardWriter):
    """One JSON document per line: id, text, sections, entities (see :func:`doc_record`)."""

    suffix = ".jsonl"

    def __init__(self, out_dir: Path, shard: str, options: WriterOptions = WriterOptions()):
        super().__init__(out_dir, shard, options)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.temporary = out_dir / f".{self.path.name}.tmp-{os.getpid()}"
        self.file: IO[str] = self.temporary.open("w", encoding="utf-8")

    def add(self, doc_id: str, doc: Doc) -> None:
        self.file.write(json.dumps(self.line(doc_record(doc_id, doc)), ensure_ascii=False) + "\n")

    def line(self, record: dict[str, Any]) -> dict[str, Any]:
        return record

    def commit(self) -> list[Path]:
        self.file.close()
        os.replace(self.temporary, self.path)
        return [self.path]


class FhirWriter(JsonlWriter):
    """One FHIR R4 Bundle per line (NDJSON; see :mod:`clinlink.io.fhir`)."""

    suffix = ".ndjson"

    def line(self, record: dict[str, Any]) -> dict[str, Any]:
        from clinlink.io.fhir import note_bundle

        return note_bundle(record)


class TableWriter(ShardWriter):
    """Two tables: ``notes/<shard>`` (one row per note, also those without mentions or not annotated:
    status and counts) and ``mentions/<shard>`` (one row per mention)."""

    folders = ("notes", "mentions")
    nested = False  # nested values as Parquet maps and structs (else JSON text)

    def __init__(self, out_dir: Path, shard: str, options: WriterOptions = WriterOptions()):
        super().__init__(out_dir, shard, options)
        self.notes: list[dict[str, Any]] = []
        self.mentions: list[dict[str, Any]] = []

    def add(self, doc_id: str, doc: Doc) -> None:
        record = doc_record(doc_id, doc)
        self.notes.append(note_row(record, doc_id))
        self.mentions.extend(mention_rows(record, nested=self.nested))

    def add_error(self, doc_id: str, reason: str) -> None:
        self.notes.append(note_row(None, doc_id, reason))

    def commit(self) -> list[Path]:
        return [
            atomic_write(self.out_dir / "notes" / f"{self.shard}{self.suffix}", lambda temporary: self.write(self.notes, "notes", temporary)),
            atomic_write(self.out_dir / "mentions" / f"{self.shard}{self.suffix}", lambda temporary: self.write(self.mentions, "mentions", temporary)),
        ]

    @abstractmethod
    def write(self, rows: list[dict[str, Any]], table: str, path: Path) -> None: ...


class ParquetWriter(TableWriter):
    """Parquet tables; codes are a map of vocabulary to lists of {code, name, score}, candidates and cues lists of structs."""

    suffix = ".parquet"
    nested = True

    def write(self, rows: list[dict[str, Any]], table: str, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = note_schema() if table == "notes" else mention_schema()
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


class CsvWriter(TableWriter):
    """CSV tables; nested values of mentions as JSON text."""

    suffix = ".csv"

    def write(self, rows: list[dict[str, Any]], table: str, path: Path) -> None:
        import pandas as pd

        columns = NOTE_COLUMNS if table == "notes" else MENTION_COLUMNS
        pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)


def note_schema():
    """The Arrow schema of the notes table."""
    import pyarrow as pa

    counts = [(column, pa.int64()) for column in NOTE_COLUMNS[3:]]
    return pa.schema([("id", pa.string()), ("status", pa.string()), ("error", pa.string()), *counts])


def mention_schema():
    """The Arrow schema of the mentions table (also the dtype of an empty shard)."""
    import pyarrow as pa

    types = {
        "start": pa.int64(), "end": pa.int64(), "historical": pa.bool_(), "resolved": pa.bool_(), "score": pa.float64(),
        "codes": pa.map_(pa.string(), pa.list_(pa.struct([("code", pa.string()), ("name", pa.string()), ("score", pa.float64())]))),
        "candidates": pa.list_(pa.struct([("concept_id", pa.string()), ("name", pa.string()), ("score", pa.float64())])),
        "assertion_cues": pa.list_(pa.struct([("start", pa.int64()), ("end", pa.int64()), ("cue", pa.string()), ("category", pa.string())])),
    }
    return pa.schema([(column, types.get(column, pa.string())) for column in MENTION_COLUMNS])


class BratWriter(ShardWriter):
    """``<id>.txt`` (the note text) and ``<id>.ann`` (standoff) per document, each written atomically.

    Entities are ``T`` lines (split into fragments at line breaks), the linked concept an
    ``N`` normalization, assertion and history ``A`` attributes, name and codes an ``#`` note.
    """

    suffix = ".ann"

    def __init__(self, out_dir: Path, shard: str, options: WriterOptions = WriterOptions()):
        super().__init__(out_dir, shard, options)
        self.written: list[Path] = []

    def add(self, doc_id: str, doc: Doc) -> None:
        base = self.out_dir / brat_name(doc_id)
        self.written.append(atomic_write_text(base.with_name(base.name + ".txt"), doc.text))
        self.written.append(atomic_write_text(base.with_name(base.name + ".ann"), brat_standoff(doc)))

    def commit(self) -> list[Path]:
        return list(self.written)


def brat_name(doc_id: str) -> str:
    """A relative file name for a note id: unsafe characters replaced, plus a short hash when changed."""
    parts = [_UNSAFE.sub("_", part) for part in doc_id.split("/") if part not in ("", ".", "..")]
    name = "/".join(part for part in parts if part) or "note"
    if name != doc_id:
        name += "-" + hashlib.sha1(doc_id.encode("utf-8")).hexdigest()[:8]
    return name


def brat_standoff(doc: Doc) -> str:
    lines: list[str] = []
    attribute = 0
    for number, span in enumerate(doc.ents, start=1):
        fragments = _fragments(doc.text, span.start_char, span.end_char)
        offsets = ";".join(f"{start} {end}" for start, end in fragments)
        text = " ".join(doc.text[start:end] for start, end in fragments)
        lines.append(f"T{number}\t{_UNSAFE.sub('_', span.label_) or 'Entity'} {offsets}\t{text}")
        if span._.concept_id:
            lines.append(f"N{number}\tReference T{number} {span._.concept_id}\t{span._.concept_name or ''}")
        attribute += 1
        lines.append(f"A{attribute}\tAssertion T{number} {span._.assertion}")
        if span._.historical:
            attribute += 1
            lines.append(f"A{attribute}\tHistorical T{number}")
        if span._.resolved:
            attribute += 1
            lines.append(f"A{attribute}\tResolved T{number}")
        note = _brat_note(span)
        if note:
            lines.append(f"#{number}\tAnnotatorNotes T{number}\t{note}")
    return "\n".join(lines) + ("\n" if lines else "")


def _fragments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) pieces of a span without line breaks or surrounding spaces."""
    pieces = []
    for match in re.finditer(r"[^\r\n]+", text[start:end]):
        piece = match.group()
        left = len(piece) - len(piece.lstrip())
        right = len(piece.rstrip())
        if right > left:
            pieces.append((start + match.start() + left, start + match.start() + right))
    return pieces or [(start, end)]


def _brat_note(span) -> str:
    parts = []
    if span._.concept_id:
        parts.append(f"{span._.concept_id} {span._.concept_name or ''}".strip())
    if span._.score is not None:
        parts.append(f"score={float(span._.score):.3f}")
    if span._.section:
        parts.append(f"section={span._.section}")
    for system, codes in (span._.codes or {}).items():
        if codes:
            parts.append(f"{system}={','.join(code_strings(codes))}")
    return "; ".join(parts).replace("\t", " ").replace("\n", " ")


class DocBinWriter(ShardWriter):
    """A ``spacy.tokens.DocBin`` with user data (extension values and the note id under ``clinlink_id``)."""

    suffix = ".spacy"

    def __init__(self, out_dir: Path, shard: str, options: WriterOptions = WriterOptions()):
        super().__init__(out_dir, shard, options)
        from spacy.tokens import DocBin

        self.doc_bin = DocBin(store_user_data=True)

    def add(self, doc_id: str, doc: Doc) -> None:
        doc.user_data[DOC_ID_KEY] = doc_id
        self.doc_bin.add(doc)

    def commit(self) -> list[Path]:
        return [atomic_write(self.path, self.doc_bin.to_disk)]


class BiocWriter(ShardWriter):
    """A BioC XML collection (see :mod:`clinlink.io.corpus`)."""

    suffix = ".xml"

    def __init__(self, out_dir: Path, shard: str, options: WriterOptions = WriterOptions()):
        super().__init__(out_dir, shard, options)
        self.documents: list = []

    def add(self, doc_id: str, doc: Doc) -> None:
        from clinlink.io.corpus import bioc_document

        self.documents.append(bioc_document(doc_record(doc_id, doc)))

    def commit(self) -> list[Path]:
        import bioc

        from clinlink.io.corpus import bioc_collection

        text = bioc.dumps(bioc_collection(self.documents))
        return [atomic_write_text(self.path, text)]


class PubtatorWriter(ShardWriter):
    """PubTator blocks, one per note (see :mod:`clinlink.io.corpus`)."""

    suffix = ".pubtator"

    def __init__(self, out_dir: Path, shard: str, options: WriterOptions = WriterOptions()):
        super().__init__(out_dir, shard, options)
        self.blocks: list[str] = []

    def add(self, doc_id: str, doc: Doc) -> None:
        from clinlink.io.corpus import pubtator_document

        self.blocks.append(pubtator_document(doc_record(doc_id, doc)))

    def commit(self) -> list[Path]:
        return [atomic_write_text(self.path, "".join(self.blocks))]


class OmopWriter(ShardWriter):
    """OMOP CDM v5.4 NOTE_NLP rows (see :mod:`clinlink.io.omop`): a CSV shard, or with ``--db`` one
    transaction per shard into the NOTE_NLP table (a repeated note replaces its earlier rows)."""

    suffix = ".csv"

    def __init__(self, out_dir: Path, shard: str, options: WriterOptions = WriterOptions()):
        super().__init__(out_dir, shard, options)
        from datetime import datetime

        self.when = datetime.now().replace(microsecond=0)
        self.rows: list[dict[str, Any]] = []
        self.note_ids: list[int] = []

    @classmethod
    def prepare(cls, options: WriterOptions) -> None:
        from clinlink.io.omop import NoteNlpDatabase, load_vocabulary

        load_vocabulary(options.omop_vocab)
        if options.db:
            NoteNlpDatabase(options.db).create()

    def add(self, doc_id: str, doc: Doc) -> None:
        from clinlink.io.omop import load_vocabulary, note_nlp_rows, omop_note_id

        self.note_ids.append(omop_note_id(doc_id))
        self.rows.extend(note_nlp_rows(doc_record(doc_id, doc), load_vocabulary(self.options.omop_vocab), self.options.nlp_system, self.when))

    def commit(self) -> list[Path]:
        from clinlink.io.omop import NOTE_NLP_COLUMNS, ROWS_PER_SHARD, NoteNlpDatabase

        if self.options.db:
            NoteNlpDatabase(self.options.db).replace_notes(self.note_ids, self.options.nlp_system, self.rows)
            return []
        import pandas as pd

        first = int(self.shard.rsplit("-", 1)[-1]) * ROWS_PER_SHARD + 1
        for number, row in enumerate(self.rows, start=first):
            row["note_nlp_id"] = number
        frame = pd.DataFrame(self.rows, columns=list(NOTE_NLP_COLUMNS))
        return [atomic_write(self.path, lambda temporary: frame.to_csv(temporary, index=False))]


WRITERS: dict[str, type[ShardWriter]] = {
    "jsonl": JsonlWriter,
    "parquet": ParquetWriter,
    "csv": CsvWriter,
    "brat": BratWriter,
    "docbin": DocBinWriter,
    "fhir": FhirWriter,
    "bioc": BiocWriter,
    "pubtator": PubtatorWriter,
    "omop": OmopWriter,
}
FORMATS = tuple(WRITERS)


def writer_class(fmt: str) -> type[ShardWriter]:
    if fmt not in WRITERS:
        raise ConfigError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return WRITERS[fmt]


def prepare_format(fmt: str, options: WriterOptions) -> None:
    """Checks the format and its options before a run (see :meth:`ShardWriter.prepare`)."""
    writer_class(fmt).prepare(options)


def shard_writer(fmt: str, out_dir: Path, shard: str, options: WriterOptions = WriterOptions()) -> ShardWriter:
    return writer_class(fmt)(out_dir, shard, options)
