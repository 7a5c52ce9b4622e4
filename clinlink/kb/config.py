"""Ontology configs: which sources a knowledge base is compiled from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clinlink.errors import ConfigError
from clinlink.kb.loaders import loader
from clinlink.resources import ONTOLOGY, resolve


@dataclass(frozen=True)
class SourceConfig:
    """One source: its loader type, file or folder (None = packaged default) and options."""

    name: str
    type: str
    path: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def resolved_path(self) -> Path:
        if self.path is not None:
            return self.path
        default = loader(self.type).default_path()
        if default is None:
            raise ConfigError(f"source {self.name!r} ({self.type}) has no default file: set 'path'")
        return default


@dataclass(frozen=True)
class OntologyConfig:
    name: str
    sources: list[SourceConfig]


def find_config(name_or_path: str | Path | None) -> Path:
    """An ontology config: a packaged name (``default``, ``hpo``) or the user's YAML path."""
    return resolve(ONTOLOGY, name_or_path or "default")


def read_config(name_or_path: str | Path | None = None) -> OntologyConfig:
    """Parse and check an ontology config; errors name the file."""
    path = find_config(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list) or not data["sources"]:
        raise ConfigError(f"{path}: expected a mapping with a non-empty 'sources' list")
    sources = []
    for position, entry in enumerate(data["sources"], start=1):
        if not isinstance(entry, dict) or "type" not in entry:
            raise ConfigError(f"{path}: source #{position} needs a 'type'")
        loader(entry["type"])  # fails early on unknown types
        raw_path = entry.get("path")
        source_path = None
        if raw_path:
            source_path = Path(str(raw_path)).expanduser()
            if not source_path.is_absolute():
                source_path = (path.parent / source_path).resolve()
        sources.append(
            SourceConfig(
                name=str(entry.get("name", entry["type"])),
                type=str(entry["type"]),
                path=source_path,
                options=dict(entry.get("options") or {}),
            )
        )
    return OntologyConfig(name=str(data.get("name", path.stem)), sources=sources)
