"""Report labels: label sets in YAML, a rule labeler over asserted mentions, a kNN labeler.

Values follow the CheXpert convention: 1 present, 0 absent, -1 possible
(uncertain), None not mentioned. When mentions disagree, present wins over
possible, and possible over absent ("no effusion on the right; small left
effusion" is an effusion). The normal label ("normal", "No Finding") is 1 when no
finding in its scope is present or possible (an empty report too, as in CheXpert)
and 0 otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from clinlink.errors import ConfigError
from clinlink.kb.knowledge_base import KnowledgeBase
from clinlink.resources import LABEL_SET, resolve
from clinlink.similarity.phrases import PhraseFinder
from clinlink.text.normalize import normalize

PRESENT, ABSENT, POSSIBLE = 1, 0, -1
#: Assertion -> label value; hypothetical and family mentions say nothing about the patient now.
ASSERTION_VALUES = {"present": PRESENT, "possible": POSSIBLE, "conditional": POSSIBLE, "absent": ABSENT}
PRECEDENCE = (PRESENT, POSSIBLE, ABSENT)


def _keys(phrases: Iterable[str]) -> frozenset[str]:
    return frozenset(key for key in (normalize(p) for p in phrases) if key)


@dataclass(frozen=True)
class Label:
    """One label: concepts (with their descendants and synonyms), extra phrases, exclusions."""

    name: str
    concepts: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    exclude_concepts: tuple[str, ...] = ()
    exclude_phrases: tuple[str, ...] = ()
    concept_ids: frozenset[str] = frozenset()  # expanded: listed + descendants + synonyms
    excluded_ids: frozenset[str] = frozenset()

    @cached_property
    def phrase_finder(self) -> PhraseFinder:
        return PhraseFinder(dict.fromkeys(self.phrases))

    @property
    def exclude_keys(self) -> frozenset[str]:
        return _keys(self.exclude_phrases)


@dataclass(frozen=True)
class NormalRule:
    """When a report is normal: nothing present or possible in scope ("any" mention, or only "labels")."""

    name: str
    scope: str = "any"
    ignore_labels: tuple[str, ...] = ()
    ignore_concepts: tuple[str, ...] = ()
    ignore_phrases: tuple[str, ...] = ()
    abnormal_phrases: tuple[str, ...] = ()
    ignored_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LabelSet:
    """A named set of labels, e.g. the 14 ChestX-ray14 findings plus "normal"."""

    name: str
    labels: tuple[Label, ...]
    normal: NormalRule | None = None
    description: str = ""

    @property
    def names(self) -> list[str]:
        """Column names: every label, then the normal label."""
        return [label.name for label in self.labels] + ([self.normal.name] if self.normal else [])

    @property
    def finding_names(self) -> list[str]:
        return [label.name for label in self.labels]

    def phrases(self) -> dict[str, str | None]:
        """Every extra phrase -> the concept its mentions are linked to (the label's first), or None."""
        found: dict[str, str | None] = {}
        for label in self.labels:
            for phrase in label.phrases:
                found.setdefault(phrase, label.concepts[0] if label.concepts else None)
        if self.normal is not None:
            for phrase in self.normal.abnormal_phrases:
                found.setdefault(phrase, None)
        return found


def label_set_path(name_or_path: str | Path) -> Path:
    """A label set YAML: a packaged name (``chestxray14``, ``chexpert``) or the user's path."""
    return resolve(LABEL_SET, name_or_path)


def _strings(value: Any, path: Path, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {where} must be a list of strings")
    return tuple(value)


def _expand(ids: Iterable[str], kb: KnowledgeBase | None, path: Path, where: str) -> frozenset[str]:
    """Ids with their descendants and their synonyms (same UMLS CUI or name across vocabularies)."""
    from clinlink.similarity.matcher import matcher_for
    from clinlink.similarity.params import TverskyParams

    ids = list(ids)
    if kb is None:
        return frozenset(ids)
    matcher = matcher_for(kb, TverskyParams.create("seed"))
    expanded: set[str] = set()
    for concept_id in ids:
        resolved = kb.resolve(concept_id)
        if resolved is None:
            raise ConfigError(f"{path}: {where}: concept {concept_id!r} is not in the knowledge base")
        for member in matcher.members(matcher.canonical(resolved)) | {resolved}:
            expanded.add(member)
            expanded.update(kb.descendants(member))
    return frozenset(expanded)


def load_label_set(name_or_path: str | Path, kb: KnowledgeBase | None = None) -> LabelSet:
    """Read a label set (a packaged name or a YAML path); ``kb`` expands concepts
    to their descendants and synonyms (without it, labels match the listed ids only)."""
    path = label_set_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("labels"), list):
        raise ConfigError(f"{path}: expected a mapping with a 'labels' list")
    labels = []
    for position, entry in enumerate(data["labels"], start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ConfigError(f"{path}: label #{position} needs a 'name'")
        unknown = set(entry) - {"name", "concepts", "phrases", "exclude_concepts", "exclude_phrases"}
        if unknown:
            raise ConfigError(f"{path}: label {entry['name']!r}: unknown keys {sorted(unknown)}")
        where = f"label {entry['name']!r}"
        concepts = _strings(entry.get("concepts"), path, where)
        excluded = _strings(entry.get("exclude_concepts"), path, where)
        labels.append(
            Label(
                name=entry["name"],
                concepts=concepts,
                phrases=_strings(entry.get("phrases"), path, where),
                exclude_concepts=excluded,
                exclude_phrases=_strings(entry.get("exclude_phrases"), path, where),
                concept_ids=_expand(concepts, kb, path, where),
                excluded_ids=_expand(excluded, kb, path, where),
            )
        )
    if len({label.name for label in labels}) != len(labels):
        raise ConfigError(f"{path}: label names must be unique")
    normal = None
    if data.get("normal") is not None:
        entry = data["normal"]
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ConfigError(f"{path}: 'normal' needs a 'name'")
        scope = entry.get("scope", "any")
        if scope not in ("any", "labels"):
            raise ConfigError(f"{path}: normal scope must be 'any' or 'labels', not {scope!r}")
        ignore_labels = _strings(entry.get("ignore_labels"), path, "normal")
        missing = set(ignore_labels) - {label.name for label in labels}
        if missing:
            raise ConfigError(f"{path}: normal ignores unknown labels {sorted(missing)}")
        ignore_concepts = _strings(entry.get("ignore_concepts"), path, "normal")
        normal = NormalRule(
            name=entry["name"],
            scope=scope,
            ignore_labels=ignore_labels,
            ignore_concepts=ignore_concepts,
            ignore_phrases=_strings(entry.get("ignore_phrases"), path, "normal"),
            abnormal_phrases=_strings(entry.get("abnormal_phrases"), path, "normal"),
            ignored_ids=_expand(ignore_concepts, kb, path, "normal"),
        )
    return LabelSet(str(data.get("name", path.stem)), tuple(labels), normal, str(data.get("description", "")))


# -- the rule labeler ----------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    """An asserted mention, as the labeler sees it (from a Doc or built by hand)."""

    text: str
    concept_id: str | None = None
    assertion: str = "present"
    historical: bool = False
    resolved: bool = False  # happened and over now: votes absent
    sentence: str = ""
    cue: str = ""
    context: str = ""  # the mention with a few words either side, for exclusion phrases


@dataclass(frozen=True)
class LabelValue:
    """A label's value (1, 0, -1, None; or a score for the kNN labeler) and the evidence for it."""

    value: float | int | None
    evidence: tuple[Any, ...] = ()

    def describe(self) -> str:
        """Evidence in one line: ``mention [assertion: cue] "sentence"`` (``present, resolved`` for a
        resolved mention), joined by `` | ``."""
        parts = []
        for item in self.evidence:
            if isinstance(item, Finding):
                cue = f": {item.cue}" if item.cue else ""
                status = f"{item.assertion}, resolved" if item.resolved else item.assertion
                parts.append(f'{item.text} [{status}{cue}] "{item.sentence.strip()}"')
            else:
                parts.append(str(item))
        return " | ".join(parts)


def _contains(keys: frozenset[str], text: str) -> bool:
    padded = f" {normalize(text)} "
    return any(f" {key} " in padded for key in keys)


class RuleLabeler:
    """Label values from asserted findings, by concept (with descendants) or phrase."""

    def __init__(self, label_set: LabelSet, historical: str = "present"):
        if historical not in ("present", "possible", "exclude"):
            raise ConfigError(f"historical must be present, possible or exclude, not {historical!r}")
        self.label_set = label_set
        self.historical = historical

    def value_of(self, finding: Finding) -> int | None:
        """The value a finding votes for (None: it says nothing about the patient now)."""
        value = ASSERTION_VALUES.get(finding.assertion)
        if value is not None and finding.resolved:
            return ABSENT
        if value is None or value == ABSENT or not finding.historical:
            return value
        if self.historical == "exclude":
            return None
        return POSSIBLE if self.historical == "possible" else value

    @staticmethod
    def matches(label: Label, finding: Finding) -> bool:
        hit = (finding.concept_id is not None and finding.concept_id in label.concept_ids) or (
            label.phrase_finder.covers(finding.text)
        )
        if not hit:
            return False
        if finding.concept_id is not None and finding.concept_id in label.excluded_ids:
            return False
        return not (label.exclude_keys and _contains(label.exclude_keys, finding.context or finding.text))

    def label(self, findings: Iterable[Finding]) -> dict[str, LabelValue]:
        """Every label's value with its evidence (the findings with the winning value)."""
        findings = [f for f in findings if self.value_of(f) is not None]
        result: dict[str, LabelValue] = {}
        for label in self.label_set.labels:
            votes: dict[int, list[Finding]] = {}
            for finding in findings:
                if self.matches(label, finding):
                    votes.setdefault(self.value_of(finding), []).append(finding)  # type: ignore[arg-type]
            winner = next((v for v in PRECEDENCE if v in votes), None)
            result[label.name] = LabelValue(winner, tuple(votes.get(winner, ())) if winner is not None else ())
        normal = self.label_set.normal
        if normal is not None:
            result[normal.name] = self._normal(normal, findings, result)
        return result

    def _normal(self, rule: NormalRule, findings: list[Finding], values: dict[str, LabelValue]) -> LabelValue:
        abnormal: list[Any] = []
        for name, value in values.items():
            if name not in rule.ignore_labels and value.value in (PRESENT, POSSIBLE):
                abnormal.extend(value.evidence)
        if rule.scope == "any":
            ignored = {name for name in rule.ignore_labels}
            ignored_labels = [label for label in self.label_set.labels if label.name in ignored]
            ignore_keys = _keys(rule.ignore_phrases)
            for finding in findings:
                if self.value_of(finding) not in (PRESENT, POSSIBLE) or finding in abnormal:
                    continue
                if finding.concept_id is not None and finding.concept_id in rule.ignored_ids:
                    continue
                if ignore_keys and normalize(finding.text) in ignore_keys:
                    continue
                if any(self.matches(label, finding) for label in ignored_labels):
                    continue
                abnormal.append(finding)
        if abnormal:
            return LabelValue(ABSENT, tuple(abnormal))
        return LabelValue(PRESENT)


def findings_from_doc(doc: Any, window: int = 3, exclude_sections: Iterable[str] = ()) -> list[Finding]:
    """The labeler's view of a processed Doc: every entity with its assertion, sentence and cue."""
    excluded = set(exclude_sections)
    findings = []
    for span in doc.ents:
        if excluded and span._.section in excluded:
            continue
        cues = span._.assertion_cues or []
        sentence = span.sent.text if doc.has_annotation("SENT_START") else doc.text
        context = doc[max(0, span.start - window) : min(len(doc), span.end + window)].text
        findings.append(
            Finding(
                text=span.text,
                concept_id=span._.concept_id,
                assertion=span._.assertion or "present",
                historical=bool(span._.historical),
                resolved=bool(span._.resolved),
                sentence=sentence,
                cue="; ".join(str(cue[2]) for cue in cues),
                context=context,
            )
        )
    return findings


# -- the kNN labeler -----------------------------------------------------------
@dataclass(frozen=True)
class Neighbour:
    """A pool report behind a kNN label score."""

    id: str
    similarity: float
    value: float | int | None

    def __str__(self) -> str:
        return f"{self.id} (similarity {self.similarity:.2f}, value {self.value})"


@dataclass
class KnnLabeler:
    """Label scores from the ``k`` most similar reports of a labelled pool (a ReportIndex).

    A label's score is the similarity-weighted share of neighbours with the label
    (1 counts 1, -1 counts ``uncertain_value``, 0 and None count 0); 0 without neighbours.
    """

    index: Any  # ReportIndex
    pool_labels: Mapping[str, Mapping[str, float | int | None]]
    names: list[str]
    k: int = 15
    uncertain_value: float = 0.5

    def __post_init__(self) -> None:
        missing = [i for i in self.index.ids if i not in self.pool_labels]
        if missing:
            raise ConfigError(f"{len(missing)} indexed reports have no labels, e.g. {missing[0]!r}")

    def _vote(self, value: float | int | None) -> float:
        if value == PRESENT:
            return 1.0
        if value == POSSIBLE:
            return self.uncertain_value
        return 0.0

    def predict(self, query: Any, k: int | None = None, exclude: Iterable[str] = ()) -> dict[str, LabelValue]:
        hits = self.index.query(query, k=k or self.k, exclude=exclude)
        total = sum(hit.score for hit in hits)
        result = {}
        for name in self.names:
            neighbours = tuple(Neighbour(hit.id, hit.score, self.pool_labels[hit.id].get(name)) for hit in hits)
            score = sum(n.similarity * self._vote(n.value) for n in neighbours) / total if total > 0 else 0.0
            result[name] = LabelValue(score, neighbours)
        return result
