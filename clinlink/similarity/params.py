"""Settings of the weighted Tversky index, with named presets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from clinlink.errors import ConfigError


@dataclass(frozen=True)
class TverskyParams:
    """How two concept sets are compared (see :func:`clinlink.similarity.tversky`).

    alpha, beta      S = I / (I + beta * (alpha * min(F, B) + (1 - alpha) * max(F, B)) + C)
    depth            hierarchy steps (up or down) within which concepts match partially; 0 = exact/synonym only
    decay            credit of a partial match: decay ** steps
    possible_weight  weight of a "possible" concept relative to a present one; matching a present
                     concept with a possible one earns this share of the credit
    absent_weight    share of a concept's weight that two sets earn for asserting the same absence
                     (0: only shared present concepts count, the plain Tversky intersection)
    weights          weight per semantic type, UMLS semantic group or source (first that applies, in that
                     order); concepts matching none get default_weight
    ic               multiply weights by the concept's intrinsic information content in its source
                     vocabulary, log(N / (descendants + 1)) / log(N), so general concepts count less
    name_synonyms    also treat concepts of different vocabularies with the same normalized preferred
                     name as synonyms (besides a shared UMLS CUI or a direct cross-reference)
    """

    alpha: float = 0.5
    beta: float = 1.0
    depth: int = 2
    decay: float = 0.5
    possible_weight: float = 0.5
    absent_weight: float = 0.0
    weights: Mapping[str, float] = field(default_factory=dict)
    default_weight: float = 1.0
    ic: bool = False
    name_synonyms: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", dict(self.weights))
        checks = {
            "alpha": 0.0 <= self.alpha <= 1.0,
            "beta": self.beta >= 0.0,
            "depth": isinstance(self.depth, int) and self.depth >= 0,
            "decay": 0.0 <= self.decay <= 1.0,
            "possible_weight": 0.0 < self.possible_weight <= 1.0,
            "absent_weight": 0.0 <= self.absent_weight <= 1.0,
            "default_weight": self.default_weight >= 0.0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"invalid Tversky setting {name}={getattr(self, name)!r}")

    def __hash__(self) -> int:
        return hash((self.alpha, self.beta, self.decay, self.possible_weight, self.absent_weight, *self.matcher_key()))

    def matcher_key(self) -> tuple:
        """The settings that decide concept identity, weights and hierarchy (not the formula)."""
        return (self.depth, tuple(sorted(self.weights.items())), self.default_weight, self.ic, self.name_synonyms)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def create(cls, preset: str | None = None, **overrides: Any) -> TverskyParams:
        """A preset (see :data:`PRESETS`) with some settings changed."""
        base = PRESETS.get(preset or "default")
        if base is None:
            raise ConfigError(f"unknown Tversky preset {preset!r}; known: {', '.join(PRESETS)}")
        unknown = set(overrides) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown Tversky settings: {', '.join(sorted(unknown))}")
        return replace(base, **overrides)


#: ``seed``: the method paper's symmetric index (alpha 0.5, beta 1), exact and synonym matches only.
#: ``default``: seed plus hierarchy partial credit (2 steps, halving per step).
PRESETS: dict[str, TverskyParams] = {
    "seed": TverskyParams(alpha=0.5, beta=1.0, depth=0),
    "default": TverskyParams(),
}
