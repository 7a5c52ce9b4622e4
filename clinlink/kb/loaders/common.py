"""Helpers shared by the loaders: opening files with clear errors."""

from __future__ import annotations

import gzip
from importlib.util import find_spec
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


def package_dir(name: str) -> Path | None:
    """Folder of an installed package, found without importing it (``simple_icd_10_cm``
    parses its whole XML on import)."""
    spec = find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))
