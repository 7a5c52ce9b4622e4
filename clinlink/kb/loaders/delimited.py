"""Row readers for delimited release files (UMLS RRF, SNOMED CT RF2) that check every row.

A malformed row raises :class:`SourceFormatError` naming the file and line, or with
``on_error="skip"`` is dropped and counted, and one warning reports the count.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from clinlink.errors import ConfigError, SourceFormatError
from clinlink.kb.loaders.common import open_text

log = logging.getLogger(__name__)

ON_ERROR_MODES = ("raise", "skip")


def check_on_error(on_error: str) -> str:
    """Validate the ``on_error`` option of a loader."""
    if on_error not in ON_ERROR_MODES:
        raise ConfigError(f"on_error must be one of {', '.join(ON_ERROR_MODES)}, not {on_error!r}")
    return on_error


class _BadRows:
    """Raises on the first malformed row, or counts them and warns once at the end."""

    def __init__(self, path: Path, on_error: str):
        self.path = path
        self.on_error = check_on_error(on_error)
        self.skipped = 0

    def __call__(self, line: int, message: str) -> None:
        if self.on_error == "raise":
            raise SourceFormatError(self.path, message, line)
        self.skipped += 1

    def report(self) -> None:
        if self.skipped:
            log.warning("%s: skipped %d malformed row(s)", self.path, self.skipped)


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line without its end of line); undecodable text names its line."""
    line_number = 0
    with open_text(path) as handle:
        try:
            for line_number, line in enumerate(handle, start=1):
                yield line_number, line.rstrip("\r\n")
        except UnicodeDecodeError as error:
            raise SourceFormatError(path, f"not UTF-8 text ({error.reason})", line_number + 1) from error


def rrf_rows(path: Path, fields: int, on_error: str = "raise") -> Iterator[list[str]]:
    """Rows of a UMLS RRF file: ``fields`` values, each followed by ``|``."""
    bad = _BadRows(path, on_error)
    for line_number, line in _numbered_lines(path):
        if not line:
            continue
        values = line.split("|")
        if len(values) != fields + 1 or values[-1] != "":
            found = len(values) - 1 if values[-1] == "" else len(values)
            bad(line_number, f"expected {fields} '|'-terminated fields, found {found}")
            continue
        values.pop()
        yield values
    bad.report()


def rf2_rows(path: Path, columns: Sequence[str], on_error: str = "raise") -> Iterator[list[str]]:
    """Rows of a SNOMED CT RF2 file: a tab-separated header equal to ``columns``, then rows."""
    bad = _BadRows(path, on_error)
    lines = _numbered_lines(path)
    first = next(lines, None)
    if first is None:
        raise SourceFormatError(path, "empty file, expected an RF2 header line", 1)
    header = first[1].lstrip("\ufeff").split("\t")
    if header != list(columns):
        raise SourceFormatError(
            path, f"expected RF2 header {' '.join(columns)!r}, found {' '.join(header)[:200]!r}", 1
        )
    for line_number, line in lines:
        if not line:
            continue
        values = line.split("\t")
        if len(values) != len(columns):
            bad(line_number, f"expected {len(columns)} tab-separated columns, found {len(values)}")
            continue
        yield values
    bad.report()
