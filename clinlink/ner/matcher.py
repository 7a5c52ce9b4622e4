"""Longest non-overlapping dictionary matches over a sentence's words, plus a fuzzy recall path."""

from __future__ import annotations

from dataclasses import dataclass

from clinlink.ner.coordination import expand_coordinations
from clinlink.ner.dictionary import MentionDictionary
from clinlink.ner.fuzzy import FuzzyMatcher


@dataclass(frozen=True, slots=True)
class Word:
    """A normalized sub-word of a token: ``the``, ``pleural``, ``effus(ion)``."""

    stem: str
    token: int
    first_in_token: bool
    last_in_token: bool
    plural: bool = False
    comma_before: bool = False
    first_token: int | None = None  # set when the word spans tokens ("pre-auricular")

    @property
    def start_token(self) -> int:
        """The first token of the word (``token`` is its last)."""
        return self.token if self.first_token is None else self.first_token


@dataclass(frozen=True, slots=True)
class Match:
    """Words ``start``..``end`` (exclusive) matched to ranked concept ids."""

    start: int
    end: int
    concept_ids: list[str]
    kind: str  # exact | order | fuzzy | coordination
    score: float


def find_matches(
    words: list[Word], dictionary: MentionDictionary, fuzzy: FuzzyMatcher | None = None, coordination: bool = True
) -> list[Match]:
    """Greedy left-to-right longest matches that start and end on token boundaries, then
    (``coordination``) the conjuncts sharing a match's head ("palmar and plantar pits"), in text order."""
    matches: list[Match] = []
    position = 0
    count = len(words)
    stems = tuple(w.stem for w in words)
    known = [word in dictionary.vocabulary for word in stems]
    anchors = fuzzy.anchors(stems) if fuzzy is not None else None
    while position < count:
        found = None
        if words[position].first_in_token:
            reach = dictionary.reach.get(stems[position], 0)
            limit = position
            while limit < count and known[limit] and limit - position < reach:
                limit += 1
            for end in range(limit, position, -1):
                if not words[end - 1].last_in_token:
                    continue
                hit = dictionary.lookup(stems[position:end], words[end - 1].plural)
                if hit is not None:
                    found = Match(position, end, hit[0], hit[1], 1.0)
                    break
            if found is None and anchors is not None and any(anchors[position : position + fuzzy.max_words]):
                found = fuzzy.match_at(words, position, anchors)
        if found is None:
            position += 1
            continue
        matches.append(found)
        position = found.end
    if coordination and matches:
        extra = expand_coordinations(words, matches, dictionary)
        if extra:
            matches = sorted(matches + extra, key=lambda match: match.start)
    return matches
