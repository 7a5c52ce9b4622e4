"""The notes of a batch run: a folder of text files or a table with id and text columns.

Every note has an ``id`` (its path relative to the folder without the suffix, or the
table's id column) and a unique ``origin`` (the file, or ``file:row N``) that names it in
errors and lets ``--resume`` skip what an earlier run finished.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

from clinlink.errors import ClinlinkError, SourceFormatError
from clinlink.io.tables import TABLE_FORMATS, check_columns, count_rows, read_reports

FALLBACK_ENCODINGS = ("cp1252", "latin-1")


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


def table_notes(path: Path, id_col: str, text_cols: Sequence[str]) -> Iterator[NoteInput]:
    """Rows of a CSV / Parquet / JSONL table (read by :func:`clinlink.io.tables.read_reports`;
    several text columns become ``NAME: text`` sections). A missing column raises
    :class:`SourceFormatError` naming the file and the column right away."""
    chunks = read_reports(path, id_col, list(text_cols))
    first = next(chunks, [])
    return _table_rows(path, id_col, chain([first], chunks))


def _table_rows(path: Path, id_col: str, chunks: Iterable[list]) -> Iterator[NoteInput]:
    row = 0
    for chunk in chunks:
        for report in chunk:
            row += 1
            origin = f"{path.name}:row {row}"
            if not report.id:
                yield NoteInput(f"row-{row}", origin, error=f"empty id in column {id_col!r}")
            else:
                yield NoteInput(report.id, origin, text=report.text)


def check_source(source: Path, id_col: str = "id", text_cols: Sequence[str] = ("text",)) -> None:
    """Raises :class:`SourceFormatError` for a missing source, a file that is not a table, or a missing column."""
    if source.is_dir():
        return
    if not source.is_file():
        raise SourceFormatError(source, "no such file or folder")
    if source.suffix.lower() not in TABLE_FORMATS:
        raise SourceFormatError(source, f"not a folder of notes nor a table ({', '.join(TABLE_FORMATS)})")
    check_columns(source, [id_col, *text_cols])


def collect_notes(source: Path, pattern: str = "**/*.txt", id_col: str = "id", text_cols: Sequence[str] = ("text",)) -> Iterable[NoteInput]:
    """The notes of a folder or table; a missing source or column is an error raised here, before any work."""
    check_source(source, id_col, text_cols)
    if source.is_dir():
        return folder_notes(source, pattern)
    return table_notes(source, id_col, text_cols)


def count_notes(source: Path, pattern: str = "**/*.txt", id_col: str = "id") -> int | None:
    """How many notes ``source`` holds (for progress and ETA); None when unknown."""
    if source.is_dir():
        return sum(1 for path in source.glob(pattern) if path.is_file())
    try:
        return count_rows(source, id_col)
    except (ClinlinkError, ValueError, OSError):
        return None  # reading the notes reports the problem
