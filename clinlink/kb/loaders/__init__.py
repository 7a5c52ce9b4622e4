"""Loaders of source vocabularies, looked up by the ``type`` named in an ontology config.

Each loader module exposes ``load(path, **options) -> list[Concept]``,
``default_path() -> Path | None``, ``input_files(path) -> list[Path]`` and
``version(path) -> str``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from clinlink.errors import ConfigError

LOADER_MODULES = {
    "obo": "clinlink.kb.loaders.obo_source",
    "hpo": "clinlink.kb.loaders.obo_source",
    "icd10cm": "clinlink.kb.loaders.icd10cm_source",
    "umls": "clinlink.kb.loaders.umls",
    "snomed": "clinlink.kb.loaders.snomed",
}


def loader(source_type: str) -> ModuleType:
    """The loader module for a source type, or a :class:`ConfigError` listing the known ones."""
    module = LOADER_MODULES.get(source_type.lower())
    if module is None:
        known = ", ".join(sorted(LOADER_MODULES))
        raise ConfigError(f"unknown source type {source_type!r}; known types: {known}")
    return importlib.import_module(module)
