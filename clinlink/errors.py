"""Errors that name the file and line that caused them."""

from __future__ import annotations

from pathlib import Path


class ClinlinkError(Exception):
    """Base class of every error clinlink raises on purpose."""


class SourceFormatError(ClinlinkError):
    """A source file is missing, unreadable or malformed."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ConfigError(ClinlinkError):
    """A configuration file or option is invalid."""


class KnowledgeBaseError(ClinlinkError):
    """A compiled knowledge base is missing, stale or corrupted."""
