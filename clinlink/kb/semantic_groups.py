"""UMLS semantic groups of semantic types (TUIs) and of SNOMED CT semantic tags (YAML data files)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).parent / "data"


@lru_cache(maxsize=1)
def _semantic_groups() -> dict:
    return yaml.safe_load((DATA_DIR / "semantic_groups.yaml").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _snomed_tags() -> dict[str, str]:
    data = yaml.safe_load((DATA_DIR / "snomed_semantic_tags.yaml").read_text(encoding="utf-8"))
    return {tag: group for group, tags in data.items() for tag in tags}


def group_names() -> dict[str, str]:
    """Group code -> name (``DISO`` -> ``Disorders``)."""
    return dict(_semantic_groups()["groups"])


def tui_group(tui: str) -> str:
    """The semantic group of one TUI (``T047`` -> ``DISO``); ``""`` when unknown."""
    return _semantic_groups()["types"].get(tui, "")


def group_of_tuis(tuis: Iterable[str]) -> str:
    """One group for a concept with several TUIs: the first of the groups' priority order."""
    found = {tui_group(tui) for tui in tuis} - {""}
    return next((group for group in _semantic_groups()["priority"] if group in found), "")


def snomed_tag_group(tag: str) -> str:
    """The semantic group of a SNOMED CT semantic tag (``disorder`` -> ``DISO``); ``""`` when unknown."""
    return _snomed_tags().get(tag, "")
