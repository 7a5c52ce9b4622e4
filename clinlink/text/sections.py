"""Section headers of clinical notes and reports ("FINDINGS:", "Family history:")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_HEADERS = Path(__file__).with_name("sections.yaml")
_BULLET = r"(?:[-*\u2022>]\s*|\d{1,2}[.)]\s+)?"


@dataclass(frozen=True, slots=True)
class Section:
    """A section of a document: character range, canonical name and header text."""

    start: int
    end: int
    name: str
    header: str


@lru_cache(maxsize=8)
def load_headers(path: str | None = None) -> dict[str, str]:
    """Header phrase (lower case) -> canonical section name, from the YAML file."""
    data = yaml.safe_load(Path(path or DEFAULT_HEADERS).read_text(encoding="utf-8"))
    return {phrase.lower(): name for name, phrases in data.items() for phrase in phrases}


class SectionFinder:
    """Finds section headers at line starts.

    A known phrase followed by ':' starts a section; so does a line in capitals
    that is a known phrase without a colon, and any capitalised "WORDS:" header
    (named in snake case) when ``unknown_headers`` is true.
    """

    def __init__(self, headers: dict[str, str] | None = None, unknown_headers: bool = True):
        self.headers = headers if headers is not None else load_headers()
        phrases = sorted(self.headers, key=len, reverse=True)
        alternatives = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in phrases)
        self._known = re.compile(
            rf"^[ \t]*{_BULLET}(?P<header>{alternatives})[ \t]*(?P<colon>:|$)", re.IGNORECASE | re.MULTILINE
        )
        self._generic = re.compile(r"^[ \t]*(?P<header>[A-Z][A-Z /&()-]{2,40}?)[ \t]*:", re.MULTILINE)
        self.unknown_headers = unknown_headers

    def find(self, text: str) -> list[Section]:
        starts: dict[int, tuple[int, str, str]] = {}
        for match in self._known.finditer(text):
            header = match.group("header")
            if not match.group("colon") and not header.isupper():
                continue  # a capitalised phrase without colon is a header only in capitals
            name = self.headers[re.sub(r"\s+", " ", header.lower())]
            starts[match.start("header")] = (match.end(), name, header)
        if self.unknown_headers:
            for match in self._generic.finditer(text):
                position = match.start("header")
                if position not in starts:
                    header = match.group("header").strip()
                    name = re.sub(r"[^a-z0-9]+", "_", header.lower()).strip("_")
                    starts[position] = (match.end(), self.headers.get(header.lower(), name), header)
        ordered = sorted(starts.items())
        sections = []
        for index, (start, (_, name, header)) in enumerate(ordered):
            end = ordered[index + 1][0] if index + 1 < len(ordered) else len(text)
            sections.append(Section(start, end, name, header))
        return sections
