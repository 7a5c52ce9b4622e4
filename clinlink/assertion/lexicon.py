"""The ConText cue lexicon: loading and validating the editable YAML file.

The file (see ``lexicon.yaml`` beside this module) holds cue phrases by category
and direction, pseudo-cues, terminations, scope punctuation, the precedence of
assertion statuses and per-section defaults. Errors name the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from clinlink.errors import SourceFormatError

DEFAULT_LEXICON = Path(__file__).with_name("lexicon.yaml")

STATUSES = ("present", "absent", "possible", "conditional", "hypothetical", "family")
STATUS_CATEGORIES = frozenset(STATUSES) - {"present"}
#: Flags set beside the status: "historical" (began before this encounter), "resolved" (happened, now over).
FLAGS = frozenset({"historical", "resolved"})
CATEGORIES = STATUS_CATEGORIES | FLAGS
DIRECTIONS = ("forward", "backward", "both", "within")

_TOKEN = re.compile(r"[^\W_]+|[^\w\s]|_")


def cue_tokens(text: str) -> tuple[str, ...]:
    """Lower-case word and punctuation tokens, the unit cues are matched in."""
    return tuple(_TOKEN.findall(text.replace("\u2019", "'").lower()))


@dataclass(frozen=True, slots=True)
class Cue:
    """One lexicon entry. ``category`` is a status, a flag ("historical", "resolved"), "pseudo" or "termination"."""

    phrase: str
    category: str
    direction: str | None = None
    max_scope: int | None = None
    # For terminations: the categories whose scopes it ends (empty: all).
    ends: frozenset[str] = frozenset()
    # For terminations: end a forward scope only once a target lies between the
    # cue and this word ("no cardiomegaly | with small effusions").
    after_target: bool = False
    # For status cues: whether the cue ends other statuses' scopes. Alternatives
    # ("pneumonia or atelectasis", "versus") do not: "no effusion or pneumothorax"
    # stays a negation of both, with "or" outranked by the precedence.
    cuts: bool = True

    @property
    def tokens(self) -> tuple[str, ...]:
        return cue_tokens(self.phrase)


@dataclass(frozen=True, slots=True)
class SectionDefault:
    """What a section implies for the mentions in it when no cue says otherwise."""

    status: str | None = None
    historical: bool = False


@dataclass
class Lexicon:
    """Validated cue lexicon; ``source`` is the file it came from."""

    cues: list[Cue]
    precedence: tuple[str, ...]
    terminating_punctuation: frozenset[str] = frozenset({";"})
    header_colon_terminates: bool = True
    list_markers_terminate: bool = True
    max_scope: int = 60
    section_defaults: dict[str, SectionDefault] = field(default_factory=dict)
    source: str = ""


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser: 10x faster than pure Python
    """SafeLoader that records the line of every mapping and reads yes/no/on/off as words (cues), not booleans."""


_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _entries(path: Path, items: object, line: int) -> list[tuple[str, int | None, int, list[str], bool, bool]]:
    """(phrase, max_scope, line, ends, after_target, cuts) for each item of a cue list (strings or mappings)."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise SourceFormatError(path, "expected a list of cue phrases", line)
    entries = []
    for item in items:
        if isinstance(item, (str, int, float)) and not isinstance(item, bool):
            entries.append((str(item), None, line, [], False, True))
        elif isinstance(item, dict):
            item_line = item.get("__line__", line)
            phrase = item.get("cue")
            scope = item.get("max_scope")
            ends = item.get("ends", [])
            if not isinstance(phrase, str) or not phrase.strip():
                raise SourceFormatError(path, "a cue mapping needs a non-empty 'cue' string", item_line)
            if scope is not None and (not isinstance(scope, int) or isinstance(scope, bool) or scope < 1):
                raise SourceFormatError(path, f"max_scope of {phrase!r} must be a positive integer", item_line)
            if isinstance(ends, str):
                ends = [ends]
            unknown = set(ends) - CATEGORIES
            if unknown:
                raise SourceFormatError(path, f"unknown categories {sorted(unknown)} in 'ends' of {phrase!r}", item_line)
            after_target = item.get("after_target", False)
            if not isinstance(after_target, bool):
                raise SourceFormatError(path, f"after_target of {phrase!r} must be true or false", item_line)
            cuts = item.get("cuts", True)
            if not isinstance(cuts, bool):
                raise SourceFormatError(path, f"cuts of {phrase!r} must be true or false", item_line)
            unexpected = set(item) - {"cue", "max_scope", "ends", "after_target", "cuts", "__line__"}
            if unexpected:
                raise SourceFormatError(path, f"unknown keys {sorted(unexpected)} for cue {phrase!r}", item_line)
            entries.append((phrase, scope, item_line, list(ends), after_target, cuts))
        else:
            raise SourceFormatError(path, f"a cue must be a string or a mapping, got {item!r}", line)
    for phrase, _, entry_line, _, _, _ in entries:
        if not cue_tokens(phrase):
            raise SourceFormatError(path, f"cue {phrase!r} has no tokens", entry_line)
    return entries


def parse_lexicon(path: str | Path) -> Lexicon:
    """Read and validate a lexicon YAML file."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 (SafeLoader subclass)
    except OSError as error:
        raise SourceFormatError(path, f"cannot read lexicon: {error}") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise SourceFormatError(path, f"invalid YAML: {error}", mark.line + 1 if mark else None) from error
    if not isinstance(data, dict):
        raise SourceFormatError(path, "a lexicon must be a mapping with a 'cues' key")
    known = {"cues", "pseudo", "termination", "scope", "precedence", "section_defaults", "__line__"}
    unknown = set(data) - known
    if unknown:
        raise SourceFormatError(path, f"unknown top-level keys {sorted(unknown)}", data["__line__"])

    cues: list[Cue] = []
    cue_groups = data.get("cues")
    if not isinstance(cue_groups, dict):
        raise SourceFormatError(path, "'cues' must map categories to directions", data["__line__"])
    for category, by_direction in cue_groups.items():
        if category == "__line__":
            continue
        if category not in CATEGORIES:
            raise SourceFormatError(path, f"unknown cue category {category!r} (use one of {sorted(CATEGORIES)})", cue_groups["__line__"])
        if not isinstance(by_direction, dict):
            raise SourceFormatError(path, f"cues.{category} must map directions to lists", cue_groups["__line__"])
        for direction, items in by_direction.items():
            if direction == "__line__":
                continue
            if direction not in DIRECTIONS:
                raise SourceFormatError(path, f"unknown direction {direction!r} in cues.{category} (use {DIRECTIONS})", by_direction["__line__"])
            for phrase, scope, _, _, _, cuts in _entries(path, items, by_direction["__line__"]):
                cues.append(Cue(phrase, category, direction, scope, cuts=cuts))
    for phrase, _, _, _, _, _ in _entries(path, data.get("pseudo"), data["__line__"]):
        cues.append(Cue(phrase, "pseudo"))
    for phrase, _, _, ends, after_target, _ in _entries(path, data.get("termination"), data["__line__"]):
        cues.append(Cue(phrase, "termination", ends=frozenset(ends), after_target=after_target))

    precedence = data.get("precedence", [])
    if not isinstance(precedence, list) or set(precedence) != STATUS_CATEGORIES or len(precedence) != len(STATUS_CATEGORIES):
        raise SourceFormatError(path, f"'precedence' must list each of {sorted(STATUS_CATEGORIES)} once", data["__line__"])

    scope = data.get("scope") or {"__line__": data["__line__"]}
    max_scope = scope.get("max_tokens", 60)
    if not isinstance(max_scope, int) or isinstance(max_scope, bool) or max_scope < 1:
        raise SourceFormatError(path, "scope.max_tokens must be a positive integer", scope["__line__"])
    punctuation = scope.get("terminating_punctuation", [";"])
    if not isinstance(punctuation, list) or not all(isinstance(p, str) and len(cue_tokens(p)) == 1 for p in punctuation):
        raise SourceFormatError(path, "scope.terminating_punctuation must list single punctuation marks", scope["__line__"])

    defaults: dict[str, SectionDefault] = {}
    for section, setting in (data.get("section_defaults") or {}).items():
        if section == "__line__":
            continue
        line = data["section_defaults"]["__line__"]
        if not isinstance(setting, dict) or set(setting) - {"assertion", "historical", "__line__"}:
            raise SourceFormatError(path, f"section_defaults.{section} takes 'assertion' and/or 'historical'", line)
        status = setting.get("assertion")
        if status is not None and status not in STATUS_CATEGORIES:
            raise SourceFormatError(path, f"section_defaults.{section}.assertion {status!r} is not one of {sorted(STATUS_CATEGORIES)}", setting.get("__line__", line))
        defaults[section] = SectionDefault(status, bool(setting.get("historical", False)))

    return Lexicon(
        cues=cues,
        precedence=tuple(precedence),
        terminating_punctuation=frozenset(punctuation),
        header_colon_terminates=bool(scope.get("header_colon_terminates", True)),
        list_markers_terminate=bool(scope.get("list_markers_terminate", True)),
        max_scope=max_scope,
        section_defaults=defaults,
        source=str(path),
    )


@lru_cache(maxsize=8)
def load_lexicon(path: str | None = None) -> Lexicon:
    """The lexicon at ``path`` (default: the packaged ``lexicon.yaml``), parsed once per process."""
    return parse_lexicon(path or DEFAULT_LEXICON)
