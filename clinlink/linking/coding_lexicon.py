"""Phrases as coders code them: a lexicon of phrase -> ICD-10-CM code, or -> no code.

A coding lexicon is mined from coded notes (see :mod:`clinlink.training.coding_lexicon`) and read at run time
by two components: the mention detector matches its phrases as names of their codes where no KB name matches
("painful" -> R52), and the linker gives a mention whose text is one of its phrases that ICD-10-CM code instead
of retrieving one, or none at all where coders never code the phrase's usual code ("tumor": D49.9, a neoplasm
of unspecified behaviour and site, is not what coders write).

The file is a TSV: ``phrase <TAB> code <TAB> documents <TAB> precision``, ``-`` as the code of a phrase not
coded; ``#`` lines are comments (the card: data, licence, command, thresholds). Phrases are matched by their
normalized words (case, inflection and accents folded), as the detector matches KB names.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from clinlink.errors import ConfigError
from clinlink.text.normalize import normalize

NO_CODE = "-"
ICD10CM_PREFIX = "ICD10CM:"


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    """One phrase: its ICD-10-CM ``code`` (None: not coded) and the evidence that chose it."""

    phrase: str
    code: str | None
    documents: int = 0  # documents of the mining data holding the phrase
    precision: float = 0.0  # of those, the share whose codes hold ``code`` (no code: hold the code the pipeline gives)


@dataclass(frozen=True)
class CodingLexicon:
    """Normalized phrase -> entry."""

    entries: dict[str, LexiconEntry] = field(default_factory=dict)
    header: tuple[str, ...] = ()

    def lookup(self, text: str) -> LexiconEntry | None:
        """The entry whose phrase ``text`` says, or None."""
        return self.entries.get(normalize(text))

    def names(self) -> dict[str, list[str]]:
        """ICD-10-CM concept id -> the phrases coded with it (for the mention detector)."""
        names: dict[str, list[str]] = {}
        for entry in self.entries.values():
            if entry.code is not None:
                names.setdefault(ICD10CM_PREFIX + entry.code, []).append(entry.phrase)
        return names

    @classmethod
    def from_entries(cls, entries: list[LexiconEntry], header: tuple[str, ...] = ()) -> CodingLexicon:
        return cls({normalize(e.phrase): e for e in entries if normalize(e.phrase)}, header)

    def save(self, path: str | Path) -> None:
        """Writes the TSV atomically (header lines as ``#`` comments), entries by documents, then phrase."""
        lines = [f"# {line}".rstrip() for line in self.header]
        lines.append("phrase\tcode\tdocuments\tprecision")
        for entry in sorted(self.entries.values(), key=lambda e: (-e.documents, e.phrase)):
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


def resolve_lexicon(name_or_path: str | Path | None) -> str | None:
    """A packaged coding lexicon's name ("codiesp-en") or a TSV path -> the file's path; None stays None."""
    if not name_or_path:
        return None
    from clinlink.resources import LEXICON, resolve

    return str(resolve(LEXICON, name_or_path))
