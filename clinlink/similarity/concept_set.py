"""What a report asserts: its present, possible and absent concepts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Assertion values of ``span._.assertion`` that put a concept in each part of a set.
ABSENT_ASSERTIONS = frozenset({"absent"})
POSSIBLE_ASSERTIONS = frozenset({"possible", "conditional"})
#: ``hypothetical`` ("if pneumonia develops") and ``family`` never describe the patient now.
EXCLUDED_ASSERTIONS = frozenset({"hypothetical", "family"})
HISTORICAL_POLICIES = ("present", "possible", "exclude")

Weights = dict[str, float]


def _as_weights(concepts: Mapping[str, float] | Iterable[str] | None) -> Weights:
    if concepts is None:
        return {}
    if isinstance(concepts, Mapping):
        return {str(k): float(v) for k, v in concepts.items()}
    return {str(c): 1.0 for c in concepts}


@dataclass
class ConceptSet:
    """Concept ids a report asserts as present, possible or absent, each with a weight (default 1).

    A concept lands in one part only: present wins over possible, possible over
    absent ("no effusion on the right, small left effusion" asserts an effusion),
    the convention of radiology labelers such as CheXpert.
    """

    present: Weights = field(default_factory=dict)
    absent: Weights = field(default_factory=dict)
    possible: Weights = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.present = _as_weights(self.present)
        self.possible = {c: w for c, w in _as_weights(self.possible).items() if c not in self.present}
        self.absent = {
            c: w for c, w in _as_weights(self.absent).items() if c not in self.present and c not in self.possible
        }

    @classmethod
    def of(
        cls,
        present: Iterable[str] | Mapping[str, float] = (),
        absent: Iterable[str] | Mapping[str, float] = (),
        possible: Iterable[str] | Mapping[str, float] = (),
    ) -> ConceptSet:
        """Build from id lists (weight 1) or id -> weight mappings."""
        return cls(_as_weights(present), _as_weights(absent), _as_weights(possible))

    @classmethod
    def from_doc(
        cls,
        doc: Any,
        historical: str = "present",
        exclude_sections: Iterable[str] = (),
        use_scores: bool = False,
    ) -> ConceptSet:
        """The concept set of a processed Doc (entities with ``span._.concept_id`` and ``span._.assertion``).

        ``absent`` assertions and resolved mentions (over now) go to :attr:`absent`,
        ``possible`` and ``conditional`` to :attr:`possible`; ``hypothetical`` and ``family`` mentions are left out, as are
        mentions in ``exclude_sections`` and unlinked ones. ``historical`` decides what a
        past finding counts as: ``present`` (default: reports restate old findings that
        still show), ``possible`` or ``exclude``. With ``use_scores`` a concept's weight
        is its best linking score instead of 1.
        """
        if historical not in HISTORICAL_POLICIES:
            raise ValueError(f"historical must be one of {HISTORICAL_POLICIES}, not {historical!r}")
        excluded_sections = set(exclude_sections)
        parts: dict[str, Weights] = {"present": {}, "possible": {}, "absent": {}}
        for span in doc.ents:
            concept_id = span._.concept_id
            assertion = span._.assertion or "present"
            if concept_id is None or assertion in EXCLUDED_ASSERTIONS:
                continue
            if excluded_sections and span._.section in excluded_sections:
                continue
            if assertion in ABSENT_ASSERTIONS or span._.resolved:
                part = "absent"
            elif assertion in POSSIBLE_ASSERTIONS:
                part = "possible"
            else:
                part = "present"
            if span._.historical and part != "absent":
                if historical == "exclude":
                    continue
                if historical == "possible":
                    part = "possible"
            weight = float(span._.score) if use_scores and span._.score is not None else 1.0
            bucket = parts[part]
            bucket[concept_id] = max(weight, bucket.get(concept_id, 0.0))
        return cls(parts["present"], parts["absent"], parts["possible"])

    # -- views ----------------------------------------------------------------
    def status(self, concept_id: str) -> str | None:
        """``present``, ``possible``, ``absent`` or None."""
        for name in ("present", "possible", "absent"):
            if concept_id in getattr(self, name):
                return name
        return None

    @property
    def concepts(self) -> set[str]:
        return set(self.present) | set(self.possible) | set(self.absent)

    def __len__(self) -> int:
        return len(self.present) + len(self.possible) + len(self.absent)

    def __bool__(self) -> bool:
        return len(self) > 0

    # -- serialization --------------------------------------------------------
    def to_dict(self) -> dict[str, Weights]:
        """Plain dict (the value of ``doc._.concept_set``), keys sorted for stable output."""
        return {
            "present": dict(sorted(self.present.items())),
            "absent": dict(sorted(self.absent.items())),
            "possible": dict(sorted(self.possible.items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConceptSet:
        unknown = set(data) - {"present", "absent", "possible"}
        if unknown:
            raise ValueError(f"unknown concept-set keys: {sorted(unknown)}")
        return cls.of(data.get("present", ()), data.get("absent", ()), data.get("possible", ()))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ConceptSet:
        return cls.from_dict(json.loads(text))
