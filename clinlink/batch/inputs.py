"""The notes of a batch run: a folder of text files or a table with id and text columns.

Every note has an ``id`` (its path relative to the folder without the suffix, or the
table's id column) and a unique ``origin`` (the file, or ``file:row N``) that names it in
errors and lets ``--resume`` skip what an earlier run finished.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from clinlink.errors import ClinlinkError, SourceFormatError

_SEPARATORS = {"csv": ",", "tsv": "\t"}
TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
FALLBACK_ENCODINGS = ("cp1252", "latin-1")
TABLE_CHUNK_ROWS = 5_000


class NoteError(ClinlinkError):
    """A note that cannot be annotated (unreadable, binary, oversized); the run goes on."""


@dataclass(frozen=True)
class NoteInput:
    """One note to annotate: its text is given (tables) or read from ``path`` when needed (folders)."""

    id: str
    origin: str
    path: str | None = None
    text: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class NoteText:
    text: str
    encoding: str


def decode(data: bytes) -> NoteText:
    """UTF-8 (with or without BOM), else cp1252, else latin-1; NUL bytes mean a binary file."""
    if b"\x00" in data:
        raise NoteError("binary file (contains NUL bytes)")
    try:
        return NoteText(data.decode("utf-8-sig"), "utf-8")
    except UnicodeDecodeError:
        pass
    for encoding in FALLBACK_ENCODINGS:
        try:
            return NoteText(data.decode(encoding), encoding)
        except UnicodeDecodeError:
            continue
    raise NoteError("undecodable text")  # unreachable: latin-1 decodes any bytes


def read_note(note: NoteInput, max_chars: int) -> NoteText:
    """The note's text, checked for size; raises :class:`NoteError` with the reason."""
    if note.error:
        raise NoteError(note.error)
    if note.text is not None:
        text = NoteText(note.text, "utf-8")
    else:
        path = Path(note.path or "")
        try:
            size = path.stat().st_size
            if size > 4 * max_chars:  # more bytes than any max_chars-character UTF-8 text
                raise NoteError(f"oversized: {size:,} bytes, more than --max-chars {max_chars:,} characters")
            text = decode(path.read_bytes())
        except OSError as error:
            raise NoteError(f"unreadable: {error.strerror or error}") from None
    if len(text.text) > max_chars:
        raise NoteError(f"oversized: {len(text.text):,} characters, more than --max-chars {max_chars:,}")
    return text


def folder_notes(folder: Path, pattern: str = "**/*.txt") -> list[NoteInput]:
    """The files under ``folder`` matching ``pattern`` (recursive by default), sorted by path."""
    paths = sorted(path for path in folder.glob(pattern) if path.is_file())
    notes = []
    for path in paths:
        relative = path.relative_to(folder)
        notes.append(NoteInput(relative.with_suffix("").as_posix(), relative.as_posix(), path=str(path)))
    return notes


def table_kind(path: Path) -> str | None:
    return TABLE_SUFFIXES.get(path.suffix.lower())


def table_notes(path: Path, id_col: str, text_cols: Sequence[str]) -> Iterator[NoteInput]:
    """Rows of a CSV / TSV / Parquet / JSONL table; several text columns are joined with newlines.

    Raises :class:`SourceFormatError` naming the file and the missing column right away.
    """
    columns = [id_col, *text_cols]
    _require_columns(path, table_columns(path), columns)
    return _table_rows(path, id_col, columns)


def _table_rows(path: Path, id_col: str, columns: list[str]) -> Iterator[NoteInput]:
    row = 0
    for frame in _table_chunks(path, columns):
        for values in frame.itertuples(index=False, name=None):
            row += 1
            note_id = _cell(values[0])
            text = "\n".join(part for part in (_cell(value) for value in values[1:]) if part)
            origin = f"{path.name}:row {row}"
            if not note_id:
                yield NoteInput(f"row-{row}", origin, error=f"empty id in column {id_col!r}")
            else:
                yield NoteInput(note_id, origin, text=text)


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None / NaN
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def table_columns(path: Path) -> list[str]:
    """The column names of a table, read from its header (CSV), schema (Parquet) or first line (JSONL)."""
    import pandas as pd

    kind = table_kind(path)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return list(pq.ParquetFile(path).schema_arrow.names)
        if kind in ("csv", "tsv"):
            return [str(name) for name in pd.read_csv(path, sep=_SEPARATORS[kind], nrows=0).columns]
        if kind == "jsonl":
            with path.open(encoding="utf-8") as lines:
                first = next((line for line in lines if line.strip()), "{}")
            return list(json.loads(first))
    except (ValueError, OSError) as error:  # pandas' ParserError, UnicodeDecodeError, JSONDecodeError are ValueErrors
        raise SourceFormatError(path, f"cannot read table: {error}") from None
    raise SourceFormatError(path, f"unknown table format {path.suffix!r}; use .csv, .tsv, .parquet or .jsonl")


def _table_chunks(path: Path, columns: list[str]):
    import pandas as pd

    kind = table_kind(path)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=TABLE_CHUNK_ROWS, columns=columns):
                yield batch.to_pandas()[columns]
            return
        if kind == "jsonl":
            reader = pd.read_json(path, lines=True, dtype=False, chunksize=TABLE_CHUNK_ROWS)
        else:
            reader = pd.read_csv(path, sep=_SEPARATORS[kind], usecols=columns, dtype=str, keep_default_na=False, chunksize=TABLE_CHUNK_ROWS)
        with reader:
            for frame in reader:
                _require_columns(path, list(frame.columns), columns)
                yield frame[columns]
    except (ValueError, OSError) as error:
        raise SourceFormatError(path, f"cannot read table: {error}") from None


def _require_columns(path: Path, present: list[str], wanted: list[str]) -> None:
    missing = [column for column in wanted if column not in present]
    if missing:
        names = ", ".join(repr(column) for column in missing)
        raise SourceFormatError(path, f"missing column {names}; the table has {', '.join(map(str, present)) or 'no columns'}")


def collect_notes(source: Path, pattern: str = "**/*.txt", id_col: str = "id", text_cols: Sequence[str] = ("text",)) -> Iterable[NoteInput]:
    """The notes of a folder or table; a missing source or column is an error raised here, before any work."""
    if source.is_dir():
        return folder_notes(source, pattern)
    if source.is_file():
        if table_kind(source) is None:
            raise SourceFormatError(source, "not a folder of notes nor a table (.csv, .tsv, .parquet, .jsonl)")
        return table_notes(source, id_col, text_cols)
    raise SourceFormatError(source, "no such file or folder")


def count_notes(source: Path, pattern: str = "**/*.txt") -> int | None:
    """How many notes ``source`` holds (for progress and ETA); None when unknown."""
    if source.is_dir():
        return sum(1 for path in source.glob(pattern) if path.is_file())
    kind = table_kind(source)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(source).metadata.num_rows
        if kind in ("csv", "tsv"):
            import pandas as pd

            chunks = pd.read_csv(source, sep=_SEPARATORS[kind], usecols=[0], dtype=str, chunksize=50_000)
            return sum(len(chunk) for chunk in chunks)
        if kind == "jsonl":
            with source.open("rb") as lines:
                return sum(1 for line in lines if line.strip())
    except (ValueError, OSError):
        return None  # reading the notes reports the problem
    return None
