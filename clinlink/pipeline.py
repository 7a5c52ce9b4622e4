"""Build spaCy pipelines from pipeline YAML configs (packaged in ``clinlink/resources/pipelines/``, or the user's)."""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from typing import Any

import spacy
import yaml
from spacy.language import Language

from clinlink.errors import ConfigError
from clinlink.extensions import register_extensions
from clinlink.memory import collector_paused
from clinlink.resources import PIPELINE, resolve
from clinlink.text.tokenizer import add_infixes

DEFAULT_PIPELINE = "clinical"
# Factories of other packages, registered when their module is imported.
EXTERNAL_FACTORIES = {"abbreviation_detector": "scispacy.abbreviation"}
# scispaCy's abbreviation detector runs an empty matcher on docs without abbreviations.
warnings.filterwarnings("ignore", message=r"\[W036\]", category=UserWarning)


def find_pipeline(name_or_path: str | Path | None) -> Path:
    """A pipeline YAML (a packaged name such as ``clinical``, or a path) or a directory saved by ``nlp.to_disk``."""
    return resolve(PIPELINE, name_or_path or DEFAULT_PIPELINE, directories=True)


def read_pipeline_config(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("components"), list):
        raise ConfigError(f"{path}: expected a mapping with a 'components' list")
    for position, component in enumerate(data["components"], start=1):
        if not isinstance(component, dict) or "factory" not in component:
            raise ConfigError(f"{path}: component #{position} needs a 'factory'")
    tokenizer = data.get("tokenizer") or {}
    if not isinstance(tokenizer, dict) or not isinstance(tokenizer.get("infixes") or [], list):
        raise ConfigError(f"{path}: 'tokenizer' must be a mapping with an 'infixes' list of regexes")
    return data


def component_names(name_or_path: str | Path | None = None) -> list[str]:
    """The component names of a pipeline (as :func:`load` takes it), without loading it."""
    path = find_pipeline(name_or_path)
    if path.is_dir():
        return list(spacy.util.load_config(path / "config.cfg")["nlp"]["pipeline"])
    return _names(read_pipeline_config(path))


def _names(data: dict[str, Any]) -> list[str]:
    return [component.get("name", component["factory"]) for component in data["components"]]


def load(name_or_path: str | Path | None = None, exclude: tuple[str, ...] = (), **component_overrides: dict) -> Language:
    """A spaCy pipeline from a packaged name (default ``clinical``; see :func:`clinlink.resources.known`), a YAML path, or a
    directory written by ``nlp.to_disk``.

    ``exclude`` drops components by name (e.g. ``("linker",)``); keyword arguments override a
    component's config: ``load("clinical", ner={"fuzzy": False})``.
    The pipeline's data is loaded with the garbage collector paused and then frozen
    (see :mod:`clinlink.memory`).
    """
    register_extensions()
    path = find_pipeline(name_or_path)
    with collector_paused():
        if path.is_dir():
            return spacy.load(path, exclude=list(exclude))
        return _build(path, read_pipeline_config(path), exclude, component_overrides)


def _build(path: Path, data: dict[str, Any], exclude: tuple[str, ...], component_overrides: dict[str, dict]) -> Language:
    names = _names(data)
    unknown = sorted(set(component_overrides) - set(names))
    if unknown:
        raise ConfigError(f"{path}: no component named {', '.join(map(repr, unknown))} to configure (components: {', '.join(names)})")
    nlp = spacy.blank(data.get("lang", "en"))
    add_infixes(nlp, (data.get("tokenizer") or {}).get("infixes") or (), str(path))
    kb = data.get("kb")
    for component in data["components"]:
        factory = component["factory"]
        name = component.get("name", factory)
        if name in exclude:
            continue
        if factory in EXTERNAL_FACTORIES:
            importlib.import_module(EXTERNAL_FACTORIES[factory])
        config = dict(component.get("config") or {})
        if kb is not None and "kb" in nlp.get_factory_meta(factory).default_config:
            config.setdefault("kb", kb)
        config.update(component_overrides.get(name, {}))
        nlp.add_pipe(factory, name=name, config=config)
    nlp.meta["name"] = str(data.get("name", path.stem))
    nlp.meta["description"] = str(data.get("description", ""))
    return nlp
