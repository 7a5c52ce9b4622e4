"""Derivational-root keys: a phrase's content words cut to their roots and sorted, so a name's words found
in another form and order still meet it ("patellar dysplasia" ~ "Dysplastic patella", "the joints are
prominent" ~ "Prominent joints"). Looked up only where no other match was found (see ``find_matches``)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

# Derivational and inflectional endings, longest first; a root keeps four letters or more.
_SUFFIXES = tuple(
    sorted(
        ("ical", "ial", "tic", "ic", "ar", "al", "ia", "a", "ous", "ing", "ed", "es", "s", "y", "e",
         "ity", "ism", "osis", "otic", "ation", "ated", "ness"),
        key=len,
        reverse=True,
    )
)
_MIN_ROOT = 4
#: Words left out of a key: they may sit inside a phrase ("deficits in attention", "milestones are delayed").
LINK_WORDS = frozenset("the of in on for with is are was were be".split())
#: Words that end a window: coordination and negation change what a phrase says, and an article or a
#: pronoun starts another phrase ("toe for a long time", "disease in her").
BREAK_WORDS = frozenset(
    "and or no not without nor a an this that these those he she it its they them their his her him".split()
)
MAX_WINDOW = 5


@lru_cache(maxsize=200_000)
def root(word: str) -> str:
    """``word`` without its first matching ending, if a root of four letters or more remains."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_ROOT:
            return word[: -len(suffix)]
    return word


def root_key(words: Iterable[str]) -> str | None:
    """Sorted roots of the content words, space-joined (None: fewer than two content words, or a break word
    inside)."""
    roots = []
    for word in words:
        if word in BREAK_WORDS:
            return None
        if word not in LINK_WORDS:
            roots.append(root(word))
    return " ".join(sorted(roots)) if len(roots) >= 2 else None
