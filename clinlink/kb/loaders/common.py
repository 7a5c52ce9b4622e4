"""Helpers shared by the loaders: opening files with clear errors."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO

from clinlink.errors import SourceFormatError


def open_text(path: str | Path, encoding: str = "utf-8") -> IO[str]:
    """Open a (possibly gzipped) text file, or raise :class:`SourceFormatError`."""
    path = Path(path)
    if not path.exists():
        raise SourceFormatError(path, "file not found")
    if path.is_dir():
        raise SourceFormatError(path, "is a directory, expected a file")
    try:
        if path.suffix == ".gz":
            return gzip.open(path, "rt", encoding=encoding, newline="")
        return open(path, encoding=encoding, newline="")
    except OSError as error:
        raise SourceFormatError(path, f"cannot read: {error.strerror or error}") from error
