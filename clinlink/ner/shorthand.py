"""Clinical shorthand: short forms ("SOB", "HTN", "DM2", "PE") read as their long forms, the sense chosen by context.

The lexicon (``shorthand.yaml`` beside this module, plus a user's file of the same shape) maps each form to
senses; a sense is an expansion that the mention detector resolves to a concept and the linker links in every
vocabulary (``span._.expansion``). An ambiguous form needs one of its sense's context words in the sentence (or
the note); a form whose senses all need context it lacks is no mention ("PE" as the physical examination).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from clinlink.errors import ConfigError

DEFAULT_SHORTHAND = Path(__file__).with_name("shorthand.yaml")
_BOUNDARY_BEFORE = r"(?<![\w/-])"
_BOUNDARY_AFTER = r"(?![\w/-]|-\w)"


@dataclass(frozen=True, slots=True)
class Sense:
    """One reading of a short form: its ``expansion`` and when it applies."""

    expansion: str
    context: re.Pattern | None = None  # word prefixes, one of which must occur (None: the default sense)
    document: bool = False  # context searched in the whole note, not the sentence
    domains: tuple[str, ...] = ()  # the sense applies in pipelines of these domains only (and then always)
    concept: str | None = None  # the concept id, where the expansion is no KB name

    def fits(self, sentence: str, note: str, domains: frozenset[str]) -> bool:
        if self.domains:
            return bool(domains.intersection(self.domains))
        if self.context is None:
            return True
        return self.context.search(note if self.document else sentence) is not None


@dataclass(frozen=True, slots=True)
class ShorthandHit:
    """A short form found in a text: characters ``start``..``end`` read as ``sense``."""

    start: int
    end: int
    form: str
    sense: Sense


class ShorthandLexicon:
    """Short forms -> senses, found in a text with two regexes (case-sensitive forms, any-case forms)."""

    def __init__(self, forms: dict[str, tuple[bool, tuple[Sense, ...]]]):
        self.forms = forms
        self.exact = {form: senses for form, (any_case, senses) in forms.items() if not any_case}
        self.folded = {form.lower(): senses for form, (any_case, senses) in forms.items() if any_case}
        self._exact_pattern = _alternation(self.exact, 0)
        self._folded_pattern = _alternation(self.folded, re.IGNORECASE)

    @classmethod
    def load(cls, paths: Sequence[str | Path | None] = (DEFAULT_SHORTHAND,)) -> ShorthandLexicon:
        """The lexicons of ``paths`` merged in order (a later file's form replaces an earlier one's)."""
        forms: dict[str, tuple[bool, tuple[Sense, ...]]] = {}
        for path in paths:
            if path:
                forms.update(_read(Path(path)))
        return cls(forms)

    def expansions(self) -> Iterator[str]:
        for _, senses in self.forms.values():
            for sense in senses:
                yield sense.expansion

    def find(self, text: str, sentence_of, domains: frozenset[str] = frozenset()) -> list[ShorthandHit]:
        """Short forms of ``text`` with the sense their context gives (``sentence_of(start, end)``: the
        sentence text around a hit); forms no sense fits are left out."""
        hits = []
        lowered = text.lower()
        for pattern, table, fold in ((self._exact_pattern, self.exact, False), (self._folded_pattern, self.folded, True)):
            if pattern is None:
                continue
            for match in pattern.finditer(text):
                form = match.group(0).lower() if fold else match.group(0)
                sentence = sentence_of(match.start(), match.end()).lower()
                sense = next((s for s in table[form] if s.fits(sentence, lowered, domains)), None)
                if sense is not None:
                    hits.append(ShorthandHit(match.start(), match.end(), match.group(0), sense))
        return sorted(hits, key=lambda hit: hit.start)


def _alternation(forms: dict, flags: int) -> re.Pattern | None:
    if not forms:
        return None
    alternatives = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
    return re.compile(f"{_BOUNDARY_BEFORE}(?:{alternatives}){_BOUNDARY_AFTER}", flags)


def _cue_pattern(cues: Sequence[str]) -> re.Pattern:
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(str(cue).lower()) for cue in cues) + ")")


@lru_cache(maxsize=8)
def _read(path: Path) -> dict[str, tuple[bool, tuple[Sense, ...]]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read the shorthand lexicon: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of short form -> {{senses: [...]}}")
    forms = {}
    for form, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("senses"), list) or not entry["senses"]:
            raise ConfigError(f"{path}: {form!r} needs a non-empty 'senses' list")
        senses = []
        for position, sense in enumerate(entry["senses"], start=1):
            if not isinstance(sense, dict) or not sense.get("expansion"):
                raise ConfigError(f"{path}: {form!r} sense #{position} needs an 'expansion'")
            cues = sense.get("context") or []
            senses.append(Sense(
                str(sense["expansion"]), _cue_pattern(cues) if cues else None, bool(sense.get("document")),
                tuple(str(d) for d in sense.get("domains") or ()), str(sense["concept"]) if sense.get("concept") else None,
            ))
        any_case = bool(entry.get("any_case"))
        forms[str(form).lower() if any_case else str(form)] = (any_case, tuple(senses))
    return forms
