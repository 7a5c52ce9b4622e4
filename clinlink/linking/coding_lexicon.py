"""Phrases as coders code them: a lexicon of phrase -> ICD-10-CM code, or -> no code.

A coding lexicon is mined from coded notes (see :mod:`clinlink.training.coding_lexicon`) or written by hand (the
packaged ``icd10cm-index``: entries of the ICD-10-CM Alphabetic Index) and read at run time by two components:
the mention detector matches its phrases as names of their codes where no KB name matches ("painful" -> R52), and
the linker gives a mention whose text is one of its phrases that ICD-10-CM code instead of retrieving one, or none
at all where coders never code the phrase's usual code ("tumor": D49.9, a neoplasm of unspecified behaviour and
site, is not what coders write).

The file is a TSV: ``phrase <TAB> code <TAB> documents <TAB> precision``, ``-`` as the code of a phrase not
coded; ``#`` lines are comments (the card: data, licence, command, thresholds). Phrases are matched by their
normalized words (case, inflection and accents folded), as the detector matches KB names. A concept id in place
of the phrase (``HP:0002904 <TAB> E80.7``) codes every mention linked to that concept, however it is worded.
Several lexicons are read in order, the first holding a mention's phrase or concept deciding it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from clinlink.errors import ConfigError
from clinlink.text.normalize import normalize

NO_CODE = "-"
ICD10CM_PREFIX = "ICD10CM:"
_CONCEPT_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*:\S+$")


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    """One phrase: its ICD-10-CM ``code`` (None: not coded) and the evidence that chose it."""

    phrase: str
    code: str | None
    documents: int = 0  # documents of the mining data holding the phrase
    precision: float = 0.0  # of those, the share whose codes hold ``code`` (no code: hold the code the pipeline gives)


@dataclass(frozen=True)
class CodingLexicon:
    """Normalized phrase -> entry, and concept id -> entry; ``then``: the lexicon read where this one says nothing."""

    entries: dict[str, LexiconEntry] = field(default_factory=dict)
    header: tuple[str, ...] = ()
    concepts: dict[str, LexiconEntry] = field(default_factory=dict)
    then: CodingLexicon | None = None

    def lookup(self, text: str, concept_id: str | None = None) -> LexiconEntry | None:
        """The entry whose phrase ``text`` says, else the entry of the mention's concept ``concept_id``, else what
        the next lexicon says; None when none holds either."""
        entry = self.entries.get(normalize(text)) or (self.concepts.get(concept_id) if concept_id is not None else None)
        return entry if entry is not None or self.then is None else self.then.lookup(text, concept_id)

    def names(self) -> dict[str, list[str]]:
        """ICD-10-CM concept id -> the phrases coded with it (for the mention detector), of every lexicon read."""
        names: dict[str, list[str]] = self.then.names() if self.then is not None else {}
        for entry in self.entries.values():
            if entry.code is not None:
                names.setdefault(ICD10CM_PREFIX + entry.code, []).append(entry.phrase)
        return names

    @classmethod
    def from_entries(cls, entries: list[LexiconEntry], header: tuple[str, ...] = ()) -> CodingLexicon:
        phrases = [e for e in entries if not _CONCEPT_ID.match(e.phrase)]
        concepts = {e.phrase: e for e in entries if _CONCEPT_ID.match(e.phrase)}
        return cls({normalize(e.phrase): e for e in phrases if normalize(e.phrase)}, header, concepts)

    @classmethod
    def chained(cls, lexicons: Sequence[CodingLexicon]) -> CodingLexicon:
        """``lexicons`` read in order: the first that holds a mention's phrase or concept decides it."""
        first, *rest = lexicons
        return replace(first, then=cls.chained(rest)) if rest else first

    def save(self, path: str | Path) -> None:
        """Writes the TSV atomically (header lines as ``#`` comments), entries by documents, then phrase."""
        lines = [f"# {line}".rstrip() for line in self.header]
        lines.append("phrase\tcode\tdocuments\tprecision")
        for entry in sorted([*self.entries.values(), *self.concepts.values()], key=lambda e: (-e.documents, e.phrase)):
            lines.append(f"{entry.phrase}\t{entry.code or NO_CODE}\t{entry.documents}\t{entry.precision:.3f}")
        from clinlink.io.writers import atomic_write_text

        atomic_write_text(Path(path), "\n".join(lines) + "\n")


@lru_cache(maxsize=8)
def load_coding_lexicon(path: str | Path) -> CodingLexicon:
    """Reads a coding lexicon TSV; a malformed row is a :class:`ConfigError` naming the file and line."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{source}: cannot read the coding lexicon ({error.strerror})") from error
    header = tuple(line[1:].strip() for line in text.splitlines() if line.startswith("#"))
    rows = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip() and not line.startswith("#")]
    entries = []
    for number, row in ((n, next(csv.reader([line], delimiter="\t"))) for n, line in rows):
        if row[:2] == ["phrase", "code"]:
            continue
        if len(row) < 2 or not row[0].strip():
            raise ConfigError(f"{source}, line {number}: expected 'phrase<TAB>code[<TAB>documents<TAB>precision]'")
        try:
            documents = int(row[2]) if len(row) > 2 else 0
            precision = float(row[3]) if len(row) > 3 else 0.0
        except ValueError as error:
            raise ConfigError(f"{source}, line {number}: {error}") from error
        code = row[1].strip().upper()
        entries.append(LexiconEntry(row[0].strip(), None if code == NO_CODE else code, documents, precision))
    return CodingLexicon.from_entries(entries, header)


def load_coding_lexicons(paths: Sequence[str | Path]) -> CodingLexicon | None:
    """The lexicons at ``paths`` read in order (:meth:`CodingLexicon.chained`); None where there are none."""
    return CodingLexicon.chained([load_coding_lexicon(path) for path in paths]) if paths else None


def resolve_lexicon(name_or_path: str | Path | None) -> str | None:
    """A packaged coding lexicon's name ("codiesp-en") or a TSV path -> the file's path; None stays None."""
    if not name_or_path:
        return None
    from clinlink.resources import LEXICON, resolve

    return str(resolve(LEXICON, name_or_path))


def resolve_lexicons(names_or_paths: str | Path | Sequence[str | Path] | None) -> tuple[str, ...]:
    """One or several packaged lexicon names or TSV paths (a config's ``coding_lexicon``) -> their paths."""
    if isinstance(names_or_paths, (str, Path)) or names_or_paths is None:
        names_or_paths = [names_or_paths]
    return tuple(path for path in map(resolve_lexicon, names_or_paths) if path)
