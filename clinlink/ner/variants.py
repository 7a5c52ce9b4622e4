"""Plain-language variants of formal ontology names (see variants.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_VARIANTS = Path(__file__).with_name("variants.yaml")
# Qualifiers in classification titles that are never written in notes: a trailing "NOS", "not elsewhere
# classified", ", unspecified <words>", "unspecified" and up to three words ("Hemangioma unspecified site") and
# parentheses; a longer rest is the title itself ("Displaced unspecified condyle fracture of lower end of ...").
_TITLE_NOISE = re.compile(
    r",?\s*(?:not elsewhere classified|unspecified(?: [a-z]+){0,3}|NOS|not otherwise specified)\s*$"
    r"|,\s*unspecified(?: [a-z ]+)?\s*$|\s*\([^)]*\)",
    re.IGNORECASE,
)
# A title cut before its object ("Pain in unspecified joint" -> "Pain in") is not a name.
_DANGLING = re.compile(r"\b(?:of|in|on|the|to|with|and|or|at|by|for)$", re.IGNORECASE)


@dataclass(frozen=True)
class VariantRules:
    patterns: tuple[tuple[re.Pattern, tuple[str, ...]], ...]
    adjectives: dict[str, tuple[str, ...]]
    prefixes: tuple[str, ...] = ()

    def variants(self, name: str) -> list[str]:
        """``name`` itself, its form without classification noise, pattern variants and prefix forms."""
        found = [name]
        cleaned = _TITLE_NOISE.sub("", name).strip(" ,")
        if cleaned and cleaned != name and not _DANGLING.search(cleaned):
            found.append(cleaned)
        for pattern, templates in self.patterns:
            match = pattern.match(name)
            if match is None:
                continue
            part = match.group("x")
            for form in (part, *self.adjectives.get(part, ())):
                found.extend(template.format(x=form) for template in templates)
        if self.prefixes:
            found.extend(variant for variant in map(self._prefix_form, found[:]) if variant is not None)
        return found

    def _prefix_form(self, name: str) -> str | None:
        """"Pre-eclampsia" -> "Preeclampsia" (None: no prefix standing apart). Hyphenated words
        in text are joined when read ("pre-auricular" -> "preauricular"), see ``doc_words``."""
        joined = _prefix_pattern(self.prefixes).sub(r"\1\2", name)
        return joined if joined != name else None


@lru_cache(maxsize=8)
def _prefix_pattern(prefixes: tuple[str, ...]) -> re.Pattern:
    """A prefix standing apart from a word of four letters or more ("pre-eclampsia", "non progressive")."""
    alternatives = "|".join(sorted(map(re.escape, prefixes), key=len, reverse=True))
    return re.compile(rf"\b({alternatives})[- ]([a-z]{{4,}})", re.IGNORECASE)


@lru_cache(maxsize=4)
def load_variant_rules(path: str | None = None) -> VariantRules:
    data = yaml.safe_load(Path(path or DEFAULT_VARIANTS).read_text(encoding="utf-8"))
    patterns = tuple((re.compile(p["match"]), tuple(p["variants"])) for p in data.get("patterns", []))
    adjectives = {k: tuple(v) for k, v in (data.get("adjectives") or {}).items()}
    return VariantRules(patterns, adjectives, tuple(data.get("prefixes") or ()))
