"""ICD-10-CM source entry point (default: the tabular XML inside ``simple-icd-10-cm``)."""

from __future__ import annotations

import re
from pathlib import Path

from clinlink.kb.concept import Concept
from clinlink.kb.loaders.common import open_text, package_dir
from clinlink.kb.loaders.icd10cm import load_icd10cm


def default_path() -> Path | None:
    """The newest ``icd10cm*tabular*.xml`` of the installed ``simple-icd-10-cm`` package."""
    folder = package_dir("simple_icd_10_cm")
    if folder is None:
        return None
    files = sorted((folder / "data").glob("*tabular*.xml"))
    return files[-1] if files else None


def input_files(path: Path) -> list[Path]:
    return [path]


def version(path: Path) -> str:
    """The ``<version>`` element near the top of the XML."""
    with open_text(path) as handle:
        head = handle.read(4096)
    match = re.search(r"<version>\s*([^<]+?)\s*</version>", head)
    return match.group(1) if match else "unknown"


def load(path: Path, expand_seventh_character: bool = True) -> list[Concept]:
    return load_icd10cm(path, expand_seventh_character)
