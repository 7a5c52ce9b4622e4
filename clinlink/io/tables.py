"""Report tables in (CSV, Parquet, JSONL) and label tables out (CSV, appended chunk by chunk).

A label CSV is written one chunk at a time, each chunk in a single append and
fsync, one line per report (values never contain line breaks). A run killed
mid-chunk leaves at most one incomplete last line, which :func:`read_done_ids`
cuts off, so a resumed run neither loses nor repeats a report.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from clinlink.errors import SourceFormatError

TABLE_FORMATS = (".csv", ".parquet", ".jsonl")


@dataclass(frozen=True)
class Report:
    """One report: its id and its text (several text columns joined under their names)."""

    id: str
    text: str


def compose_text(values: Sequence[str], names: Sequence[str]) -> str:
    """One column: its text. Several: ``NAME: text`` sections (empty ones left out), so the
    segmenter sees "FINDINGS:" and "IMPRESSION:" headers."""
    if len(names) == 1:
        return values[0].strip()
    parts = [f"{name.upper()}: {value.strip()}" for name, value in zip(names, values) if value and value.strip()]
    return "\n\n".join(parts)


def _frames(path: Path, columns: list[str], chunk_size: int) -> Iterator[pd.DataFrame]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=chunk_size, usecols=columns)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_size, columns=columns):
            yield batch.to_pandas().astype("string").fillna("").astype(object)
    elif suffix == ".jsonl":
        for number, frame in enumerate(pd.read_json(path, lines=True, chunksize=chunk_size, dtype=False)):
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise SourceFormatError(path, f"no column {missing[0]!r} in the records near", number * chunk_size + 1)
            yield frame[columns].astype("string").fillna("").astype(object)
    else:
        raise SourceFormatError(path, f"unsupported table format {path.suffix!r}; use one of {', '.join(TABLE_FORMATS)}")


def table_columns(path: Path) -> list[str]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return list(pd.read_csv(path, nrows=0).columns)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    if suffix == ".jsonl":
        return list(next(pd.read_json(path, lines=True, chunksize=1, dtype=False)).columns)
    raise SourceFormatError(path, f"unsupported table format {path.suffix!r}; use one of {', '.join(TABLE_FORMATS)}")


def check_columns(path: str | Path, columns: Sequence[str]) -> None:
    """Raises :class:`SourceFormatError` naming the file (and the column) when the table is missing,
    unreadable or lacks one of ``columns``."""
    path = Path(path)
    if not path.is_file():
        raise SourceFormatError(path, "no such file" if not path.exists() else "not a file")
    try:
        available = table_columns(path)
    except (ValueError, OSError, StopIteration) as error:
        raise SourceFormatError(path, f"cannot read the table: {str(error).splitlines()[0] if str(error) else 'empty'}") from None
    for column in columns:
        if column not in available:
            raise SourceFormatError(path, f"no column {column!r}; columns: {', '.join(map(str, available))}")


def read_reports(
    path: str | Path, id_column: str, text_columns: Sequence[str], chunk_size: int = 1000
) -> Iterator[list[Report]]:
    """Chunks of reports from a CSV, Parquet or JSONL table."""
    path = Path(path)
    check_columns(path, [id_column, *text_columns])
    columns = list(dict.fromkeys([id_column, *text_columns]))
    try:
        for frame in _frames(path, columns, chunk_size):
            yield [
                Report(str(row[0]).strip(), compose_text([str(v) for v in row[1:]], text_columns))
                for row in frame[[id_column, *text_columns]].itertuples(index=False, name=None)
            ]
    except (ValueError, pd.errors.ParserError) as error:
        raise SourceFormatError(path, f"cannot read the table: {error}") from error


def count_rows(path: str | Path, id_column: str) -> int:
    """Number of reports in a table (for a progress bar)."""
    path = Path(path)
    check_columns(path, [id_column])
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return sum(len(frame) for frame in _frames(path, [id_column], 10_000))


# -- label CSV output ---------------------------------------------------------------
def _one_line(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(str(value).split())


def read_done_ids(path: str | Path, header: Sequence[str]) -> set[str]:
    """Ids already in a label CSV; cuts an incomplete last line left by a killed run.

    Raises :class:`SourceFormatError` when the file has another header (another label set).
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return set()
    with open(path, "rb+") as handle:
        data = handle.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            handle.truncate(end)
            data = data[:end]
    rows = csv.reader(io.StringIO(data.decode("utf-8")))
    found = next(rows, None)
    if found is None:
        return set()
    if found != list(header):
        raise SourceFormatError(path, "its columns differ from this run's labels; write to another file", 1)
    return {row[0] for row in rows if row}


class LabelCsvWriter:
    """Appends rows to a label CSV, one atomic append per chunk."""

    def __init__(self, path: str | Path, header: Sequence[str]):
        self.path = Path(path)
        self.header = list(header)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._append([self.header])

    def _append(self, rows: list[list[Any]]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for row in rows:
            writer.writerow([_one_line(value) for value in row])
        data = buffer.getvalue().encode("utf-8")
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = 0
            while written < len(data):
                written += os.write(descriptor, data[written:])
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def write_chunk(self, rows: list[list[Any]]) -> None:
        if rows:
            self._append(rows)


def append_errors(path: str | Path, errors: list[dict[str, Any]]) -> None:
    """Add failed reports (``{"id": ..., "error": ...}``) to a JSONL errors file."""
    if not errors:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for error in errors:
            handle.write(json.dumps(error, ensure_ascii=False) + "\n")
