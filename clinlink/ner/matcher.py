"""Longest non-overlapping dictionary matches over a sentence's words, plus a fuzzy recall path."""

from __future__ import annotations

from dataclasses import dataclass

from clinlink.ner.coordination import expand_coordinations
from clinlink.ner.dictionary import NOT_A_MENTION, MentionDictionary
from clinlink.ner.fuzzy import FuzzyMatcher
from clinlink.ner.roots import BREAK_WORDS, LINK_WORDS, MAX_WINDOW, root, root_key


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
    break_before: bool = False  # a semicolon before it: no name reads across ("diabetes; gestational ...")

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
    kind: str  # exact | order | fuzzy | coordination | derived
    score: float


def find_matches(
    words: list[Word],
    dictionary: MentionDictionary,
    fuzzy: FuzzyMatcher | None = None,
    coordination: bool = True,
    derived: bool = True,
) -> list[Match]:
    """Greedy left-to-right longest matches that start and end on token boundaries, each grown by a
    qualifier word before it that names a child concept ("severe developmental delay"), then
    (``coordination``) the conjuncts sharing a match's head ("palmar and plantar pits"), then
    derivational-root matches among the words left over (``derived``), in text order."""
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
            while limit < count and known[limit] and limit - position < reach and not (limit > position and words[limit].break_before):
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
    if dictionary.qualified and matches:
        matches = [_qualify(words, match, dictionary, matches[i - 1].end if i else 0) for i, match in enumerate(matches)]
    if coordination and matches:
        extra = expand_coordinations(words, matches, dictionary)
        if extra:
            matches = sorted(matches + extra, key=lambda match: match.start)
    if derived and dictionary.derived:
        extra = derived_matches(words, matches, dictionary)
        if extra:
            matches = sorted(matches + extra, key=lambda match: match.start)
    return [match for match in matches if match.concept_ids[0] != NOT_A_MENTION]


def _qualify(words: list[Word], match: Match, dictionary: MentionDictionary, free_from: int) -> Match:
    """``match`` grown by the word before it when that word and the matched concept name a child concept
    ("severe" + "developmental delay" -> Severe global developmental delay)."""
    before = match.start - 1
    if before < free_from or match.kind == "fuzzy" or not words[before].first_in_token or not words[before].last_in_token:
        return match
    child = dictionary.qualified.get((words[before].stem, match.concept_ids[0]))
    return Match(before, match.end, [child], match.kind, match.score) if child else match


def derived_matches(words: list[Word], matches: list[Match], dictionary: MentionDictionary) -> list[Match]:
    """Longest windows of words outside ``matches`` whose root key names one concept (see
    :mod:`clinlink.ner.roots`); a window starts and ends on a content word and holds no comma."""
    roots = dictionary.derived_roots
    state = [_word_state(word.stem, roots) for word in words]
    for match in matches:
        state[match.start : match.end] = [_STOP] * (match.end - match.start)
    if state.count(_KNOWN) < 2:
        return []
    found: list[Match] = []
    position = 0
    while position < len(words):
        hit = None
        if state[position] == _KNOWN and words[position].first_in_token:
            hit = _longest_derived(words, state, position, dictionary)
        if hit is None:
            position += 1
            continue
        found.append(hit)
        position = hit.end
    return found


_LINK, _KNOWN, _STOP = 0, 1, 2  # a word inside a window, a word of some root key, a word that ends a window


def _word_state(stem: str, roots: frozenset[str]) -> int:
    if stem in LINK_WORDS:
        return _LINK
    if stem in BREAK_WORDS:
        return _STOP
    return _KNOWN if root(stem) in roots else _STOP


def _longest_derived(words: list[Word], state: list[int], start: int, dictionary: MentionDictionary) -> Match | None:
    limit = start + 1
    while (
        limit < len(words) and limit - start < MAX_WINDOW and state[limit] != _STOP
        and not (words[limit].comma_before or words[limit].break_before)
    ):
        limit += 1
    for end in range(limit, start + 1, -1):
        if state[end - 1] != _KNOWN or not words[end - 1].last_in_token:
            continue
        concept_id = dictionary.derived.get(root_key(word.stem for word in words[start:end]))
        if concept_id is not None:
            return Match(start, end, [concept_id], "derived", 1.0)
    return None
