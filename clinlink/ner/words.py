"""The matcher's input: normalized sub-words of a doc's tokens.

Token facts (text, punctuation, normalized parts) depend on the token's string only,
so they are computed once per distinct string and read through the doc's ORTH array,
without creating a spaCy ``Token`` object per token.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from spacy.attrs import ORTH, SPACY
from spacy.tokens import Doc, Span

from clinlink.ner.matcher import Word
from clinlink.ner.variants import load_variant_rules
from clinlink.text.normalize import stem, tokens

_CACHE_LIMIT = 500_000


@dataclass(frozen=True, slots=True)
class TokenFacts:
    """What the matcher needs to know about one token string."""

    text: str
    lower: str
    skipped: bool  # punctuation or space: not a word
    is_alpha: bool
    parts: tuple[tuple[str, bool], ...]  # (stem, is plural) of each normalized part


_FACTS: dict[int, TokenFacts] = {}


def doc_words(sentence: Span) -> list[Word]:
    """Normalized sub-words of a sentence's tokens (punctuation and spaces dropped); a prefix
    hyphenated to a word is read as one word with it ("pre-auricular" -> "preauricular")."""
    return span_words(sentence.doc, sentence.start, sentence.end, DocTokens(sentence.doc))


class DocTokens:
    """The facts and trailing-space flags of every token of a doc, read once."""

    def __init__(self, doc: Doc):
        array = doc.to_array([ORTH, SPACY])
        self.facts = [_facts(doc, orth) for orth in array[:, 0].tolist()] if len(doc) else []
        self.spaced = array[:, 1].tolist() if len(doc) else []


def span_words(doc: Doc, start: int, end: int, doc_tokens: DocTokens) -> list[Word]:
    """The words of tokens ``start``..``end`` (see :func:`doc_words`)."""
    words: list[Word] = []
    facts, spaced = doc_tokens.facts, doc_tokens.spaced
    prefixes = _prefixes()
    comma = semicolon = False
    i = start
    while i < end:
        fact = facts[i]
        if fact.skipped:
            comma = comma or fact.text == ","
            semicolon = semicolon or fact.text == ";"
            i += 1
            continue
        if fact.lower in prefixes and _hyphenated(facts, spaced, i, end):
            joined = fact.lower + facts[i + 2].lower
            stemmed = stem(joined)
            plural = stemmed != joined and joined.endswith(("s", "i", "ae"))
            words.append(Word(stemmed, i + 2, True, True, plural, comma, first_token=i, break_before=semicolon))
            comma = semicolon = False
            i += 3
            continue
        last = len(fact.parts) - 1
        for position, (stemmed, plural) in enumerate(fact.parts):
            first = position == 0
            words.append(Word(stemmed, i, first, position == last, plural, comma and first, break_before=semicolon and first))
        comma = semicolon = False
        i += 1
    return words


def _hyphenated(facts: list[TokenFacts], spaced: list[int], i: int, end: int) -> bool:
    """Token ``i`` + "-" + an alphabetic word of four letters or more, without spaces between."""
    return (
        i + 2 < end
        and not spaced[i]
        and facts[i + 1].text == "-"
        and not spaced[i + 1]
        and facts[i + 2].is_alpha
        and len(facts[i + 2].text) >= 4
    )


def _facts(doc: Doc, orth: int) -> TokenFacts:
    fact = _FACTS.get(orth)
    if fact is None:
        if len(_FACTS) > _CACHE_LIMIT:
            _FACTS.clear()
        lexeme = doc.vocab[orth]
        parts = []
        for part in tokens(lexeme.text):
            stemmed = stem(part)
            parts.append((stemmed, stemmed != part and part.endswith(("s", "i", "ae"))))
        fact = TokenFacts(lexeme.text, lexeme.lower_, lexeme.is_punct or lexeme.is_space, lexeme.is_alpha, tuple(parts))
        _FACTS[orth] = fact
    return fact


@lru_cache(maxsize=1)
def _prefixes() -> frozenset[str]:
    return frozenset(load_variant_rules().prefixes)
