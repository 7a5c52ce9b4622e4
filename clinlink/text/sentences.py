"""Sentence boundaries for clinical text: punctuation, blank lines, lists and headers,
while wrapped report lines ("hard line breaks") stay in one sentence."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Words whose trailing period does not end a sentence.
ABBREVIATIONS = frozenset(
    "dr mr mrs ms pt pts vs approx appt e.g i.e etc no nos fig st mg ml cm mm hx dx tx rx yo y.o b.i.d t.i.d q.i.d p.o "
    "a.m p.m sr jr wt ht temp resp min max avg inc dept".split()
)
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*\u2022>]|\d{1,2}[.)](?=\s)|[a-z][.)](?=\s))")
_END = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)")


def _abbreviation_before(text: str, end: int) -> bool:
    start = end
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    word = text[start:end].lower().rstrip(".")
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _list_number_before(text: str, period: int) -> bool:
    """True for the period of a list number ("1." at the start of a line)."""
    start = period
    while start > 0 and period - start < 2 and text[start - 1].isdigit():
        start -= 1
    if start == period:
        return False
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    return start == 0 or text[start - 1] == "\n"


def sentence_starts(text: str, section_starts: Iterable[int] = ()) -> list[int]:
    """Character offsets where sentences start (always includes the first non-space)."""
    starts: set[int] = set(section_starts)
    first = len(text) - len(text.lstrip())
    if first < len(text):
        starts.add(first)
    for match in _END.finditer(text):
        if text[match.start()] == "." and (
            _abbreviation_before(text, match.start())
            or _list_number_before(text, match.start())
            or (match.start() > 0 and text[match.start() - 1].isdigit() and match.end() < len(text) and text[match.end()].isdigit())
        ):
            continue
        nxt = match.end()
        while nxt < len(text) and text[nxt].isspace():
            nxt += 1
        if nxt < len(text) and not text[nxt].islower():
            starts.add(nxt)
    length = len(text)
    for line in re.finditer(r"\n", text):
        begin = line.end()
        while begin < length and text[begin] in " \t":
            begin += 1
        if begin >= length or text[begin] == "\n":
            continue  # blank line: the next non-blank line is handled at its own newline
        before = line.start()
        while before > 0 and text[before - 1] in " \t":
            before -= 1
        last = text[before - 1] if before > 0 else "\n"
        head = text[begin : begin + 64]
        if last == "\n" or last in ".:;!?" or _LIST_ITEM.match(head) or _looks_like_header(head):
            starts.add(begin)
    return sorted(s for s in starts if s < len(text) and not text[s].isspace())


def _looks_like_header(line: str) -> bool:
    head = line.split("\n", 1)[0]
    label, colon, _ = head.partition(":")
    return bool(colon) and 0 < len(label) <= 40 and label[:1].isupper() and len(label.split()) <= 5
