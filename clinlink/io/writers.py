"""Shard writers: JSONL, Parquet, CSV, BRAT standoff and spaCy DocBin.

A writer collects the documents of one shard and publishes them atomically in
:meth:`ShardWriter.commit` (temporary file, then ``os.replace``), so a reader never
sees half a shard.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from spacy.tokens import Doc

from clinlink.errors import ConfigError
from clinlink.io.records import MENTION_COLUMNS, code_strings, doc_record, mention_rows

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


class ShardWriter(ABC):
    """Collects the documents of one shard; :meth:`commit` publishes them and returns the files."""

    suffix = ""

    def __init__(self, out_dir: Path, shard: str):
        self.out_dir = out_dir
        self.shard = shard

    @property
    def path(self) -> Path:
        return self.out_dir / f"{self.shard}{self.suffix}"

    @abstractmethod
    def add(self, doc_id: str, doc: Doc) -> None: ...

    @abstractmethod
    def commit(self) -> list[Path]: ...


class JsonlWriter(ShardWriter):
    """One JSON document per line: id, text, sections, entities (see :func:`doc_record`)."""

    suffix = ".jsonl"

    def __init__(self, out_dir: Path, shard: str):
        super().__init__(out_dir, shard)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.temporary = out_dir / f".{self.path.name}.tmp-{os.getpid()}"
        self.file: IO[str] = self.temporary.open("w", encoding="utf-8")

    def add(self, doc_id: str, doc: Doc) -> None:
        self.file.write(json.dumps(doc_record(doc_id, doc), ensure_ascii=False) + "\n")

    def commit(self) -> list[Path]:
        self.file.close()
        os.replace(self.temporary, self.path)
        return [self.path]


class TableWriter(ShardWriter):
    """One row per mention (nested values as JSON text); documents without mentions add no row."""

    def __init__(self, out_dir: Path, shard: str):
        super().__init__(out_dir, shard)
        self.rows: list[dict[str, Any]] = []

    def add(self, doc_id: str, doc: Doc) -> None:
        self.rows.extend(mention_rows(doc_record(doc_id, doc)))


class ParquetWriter(TableWriter):
    suffix = ".parquet"

    def commit(self) -> list[Path]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(self.rows, schema=mention_schema())
        return [atomic_write(self.path, lambda temporary: pq.write_table(table, temporary))]


class CsvWriter(TableWriter):
    suffix = ".csv"

    def commit(self) -> list[Path]:
        import pandas as pd

        frame = pd.DataFrame(self.rows, columns=list(MENTION_COLUMNS))
        return [atomic_write(self.path, lambda temporary: frame.to_csv(temporary, index=False))]


def mention_schema():
    """The Arrow schema of mention rows (also the dtype of an empty shard)."""
    import pyarrow as pa

    types = {"start": pa.int64(), "end": pa.int64(), "historical": pa.bool_(), "score": pa.float64()}
    return pa.schema([(column, types.get(column, pa.string())) for column in MENTION_COLUMNS])


class BratWriter(ShardWriter):
    """``<id>.txt`` (the note text) and ``<id>.ann`` (standoff) per document, each written atomically.

    Entities are ``T`` lines (split into fragments at line breaks), the linked concept an
    ``N`` normalization, assertion and history ``A`` attributes, name and codes an ``#`` note.
    """

    suffix = ".ann"

    def __init__(self, out_dir: Path, shard: str):
        super().__init__(out_dir, shard)
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

    def __init__(self, out_dir: Path, shard: str):
        super().__init__(out_dir, shard)
        from spacy.tokens import DocBin

        self.doc_bin = DocBin(store_user_data=True)

    def add(self, doc_id: str, doc: Doc) -> None:
        doc.user_data[DOC_ID_KEY] = doc_id
        self.doc_bin.add(doc)

    def commit(self) -> list[Path]:
        return [atomic_write(self.path, self.doc_bin.to_disk)]


WRITERS: dict[str, type[ShardWriter]] = {
    "jsonl": JsonlWriter,
    "parquet": ParquetWriter,
    "csv": CsvWriter,
    "brat": BratWriter,
    "docbin": DocBinWriter,
}
FORMATS = tuple(WRITERS)


def shard_writer(fmt: str, out_dir: Path, shard: str) -> ShardWriter:
    if fmt not in WRITERS:
        raise ConfigError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return WRITERS[fmt](out_dir, shard)
