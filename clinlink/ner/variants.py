"""Plain-language variants of formal ontology names (see variants.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_VARIANTS = Path(__file__).with_name("variants.yaml")
# Qualifiers in classification titles that are never written in notes.
_TITLE_NOISE = re.compile(
    r",?\s*(?:not elsewhere classified|unspecified(?: [a-z ]+)?|NOS|not otherwise specified)\s*$|\s*\([^)]*\)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class VariantRules:
    patterns: tuple[tuple[re.Pattern, tuple[str, ...]], ...]
    adjectives: dict[str, tuple[str, ...]]

    def variants(self, name: str) -> list[str]:
        """``name`` itself, its form without classification noise, and pattern variants."""
        found = [name]
        cleaned = _TITLE_NOISE.sub("", name).strip(" ,")
        if cleaned and cleaned != name:
            found.append(cleaned)
        for pattern, templates in self.patterns:
            match = pattern.match(name)
            if match is None:
                continue
            part = match.group("x")
            for form in (part, *self.adjectives.get(part, ())):
                found.extend(template.format(x=form) for template in templates)
        return found


@lru_cache(maxsize=4)
def load_variant_rules(path: str | None = None) -> VariantRules:
    data = yaml.safe_load(Path(path or DEFAULT_VARIANTS).read_text(encoding="utf-8"))
    patterns = tuple((re.compile(p["match"]), tuple(p["variants"])) for p in data.get("patterns", []))
    adjectives = {k: tuple(v) for k, v in (data.get("adjectives") or {}).items()}
    return VariantRules(patterns, adjectives)
