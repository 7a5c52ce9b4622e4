"""Packaged run-time data, found by one resolver.

``clinlink/resources/`` holds what the library reads at run time and ships in the wheel:
``pipelines/`` (pipeline YAML), ``labels/`` (report label sets), ``ontologies/`` (ontology
configs), ``lexicons/`` (coding lexicons, TSV) and ``models/`` (the trained bi-encoder and cross-encoder). :func:`resolve` turns a
bare name into the packaged file (``"clinical"`` -> ``pipelines/clinical.yaml``) and a path into
the user's own file; anything else is a :class:`~clinlink.errors.ConfigError` listing the
packaged names.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from clinlink.errors import ConfigError


@dataclass(frozen=True)
class ResourceKind:
    """One kind of packaged resource: its folder and what a name maps to there."""

    label: str  # how errors name it: "pipeline", "label set"...
    folder: str
    suffix: str  # ".yaml" for files; "" for directories (models)


PIPELINE = ResourceKind("pipeline", "pipelines", ".yaml")
LABEL_SET = ResourceKind("label set", "labels", ".yaml")
ONTOLOGY = ResourceKind("ontology config", "ontologies", ".yaml")
LEXICON = ResourceKind("coding lexicon", "lexicons", ".tsv")
MODEL = ResourceKind("model", "models", "")
YAML_SUFFIXES = (".yaml", ".yml")
PATH_SUFFIXES = (*YAML_SUFFIXES, ".tsv")


def packaged_dir(kind: ResourceKind) -> Path:
    """The folder of ``kind`` inside the installed package (a real directory: models are memory-mapped)."""
    folder = files(__name__) / kind.folder
    if not isinstance(folder, Path):
        raise ConfigError(f"clinlink's {kind.folder} are not on the file system ({folder}); install clinlink unzipped")
    return folder


def packaged(kind: ResourceKind, name: str) -> Path | None:
    """The packaged resource called ``name``, or None."""
    path = packaged_dir(kind) / f"{name}{kind.suffix}"
    exists = path.is_dir() if not kind.suffix else path.is_file()
    return path if exists and name == Path(name).name else None


def known(kind: ResourceKind) -> list[str]:
    """Names of the packaged resources of ``kind``."""
    folder = packaged_dir(kind)
    if not kind.suffix:
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    return sorted(p.stem for p in folder.glob(f"*{kind.suffix}"))


def resolve(kind: ResourceKind, name_or_path: str | Path, directories: bool = False) -> Path:
    """A packaged name or a user's path -> the file (or directory) to read.

    A value that names an existing path, or looks like one (a YAML suffix, a path separator), is the
    user's; otherwise it is a packaged name. ``directories``: a directory is accepted as the user's
    resource (a pipeline saved by ``nlp.to_disk``; models always are directories).
    """
    text = str(name_or_path)
    candidate = Path(text).expanduser()
    if not text:
        raise ConfigError(f"empty {kind.label} name; packaged: {', '.join(known(kind))}")
    looks_like_path = candidate.suffix in PATH_SUFFIXES or "/" in text or "\\" in text or candidate.exists()
    if looks_like_path:
        if not candidate.exists():
            raise ConfigError(f"{candidate}: {kind.label} not found")
        if candidate.is_dir() and kind.suffix and not directories:
            raise ConfigError(f"{candidate}: is a directory, expected a {kind.label} file")
        return candidate
    path = packaged(kind, text)
    if path is None:
        raise ConfigError(f"no {kind.label} named {text!r}; packaged: {', '.join(known(kind))}")
    return path
