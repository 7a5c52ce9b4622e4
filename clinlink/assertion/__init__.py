"""Assertion stage: ConText-style cues decide whether a mention is present, absent,
possible, conditional, hypothetical or about the family, and whether it is historical."""

from clinlink.assertion.context import Assertion, ContextMatcher, CueMatch
from clinlink.assertion.lexicon import DEFAULT_LEXICON, STATUSES, Cue, Lexicon, load_lexicon, parse_lexicon

__all__ = [
    "Assertion",
    "ContextMatcher",
    "Cue",
    "CueMatch",
    "DEFAULT_LEXICON",
    "Lexicon",
    "STATUSES",
    "load_lexicon",
    "parse_lexicon",
]
