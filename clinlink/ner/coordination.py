"""Coordinated mentions: the shared head or modifier of "palmar and plantar pits",
"branchial, otic and renal anomalies", "parathyroid adenoma or hyperplasia",
"hypopigmentation of skin or hair", "mild-to-severe intellectual disability".

Runs after the longest-match pass. For a match M ("plantar pits") it walks left over
the conjuncts ("palmar", "otic", ...) joined by "and"/"or"/commas, and for each tries
the conjunct + M's head ("palmar pits") and the conjunct + all of M; after M it tries
M with its last word replaced by the conjunct that follows ("parathyroid hyperplasia").
A conjunct yields a mention only when the expanded phrase is a dictionary name and
none of its words is already matched; the mention spans the conjunct's own words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clinlink.ner.dictionary import FUNCTION_WORDS, MentionDictionary

if TYPE_CHECKING:
    from clinlink.ner.matcher import Match, Word

CONNECTORS = frozenset({"and", "or"})
# "to" joins a severity range ("mild-to-severe intellectual disability").
SEVERITIES = frozenset({"mild", "moderate", "severe", "profound", "borderline", "marked"})
MAX_CONJUNCT_WORDS = 2
MAX_CONJUNCTS = 6


def expand_coordinations(words: list[Word], matches: list[Match], dictionary: MentionDictionary) -> list[Match]:
    """Extra matches for conjuncts that share a matched mention's head or modifier."""
    taken = [False] * len(words)
    for match in matches:
        taken[match.start:match.end] = [True] * (match.end - match.start)
    extra: list[Match] = []
    for match in matches:
        if match.end - match.start < 2:
            continue
        extra.extend(_left_conjuncts(words, match, dictionary, taken))
        extra.extend(_right_conjunct(words, match, dictionary, taken))
    return extra


def _left_conjuncts(words: list[Word], match: Match, dictionary: MentionDictionary, taken: list[bool]) -> list[Match]:
    stems = [w.stem for w in words[match.start:match.end]]
    heads = (tuple(stems[1:]), tuple(stems))
    found = []
    position = match.start  # first word right of the next conjunct
    for _ in range(MAX_CONJUNCTS):
        end = _connector_before(words, position)
        if end is None:
            break
        starts = _conjunct_starts(words, end, taken)
        for start in starts:
            conjunct = tuple(w.stem for w in words[start:end])
            if words[end].stem == "to" and not SEVERITIES.issuperset(conjunct):
                continue
            hit = _lookup_any(dictionary, [conjunct + head for head in heads], words[match.end - 1].plural)
            if hit is not None:
                found.append(_match(start, end, hit, taken))
                break
        if len(starts) != 1:
            break  # the leftmost conjunct (or none): the coordination ends here
        position = starts[0]
    return found


def _right_conjunct(words: list[Word], match: Match, dictionary: MentionDictionary, taken: list[bool]) -> list[Match]:
    after = match.end
    if after >= len(words) or words[after].stem not in CONNECTORS:
        return []
    start = after + 1
    for end in range(min(len(words), start + MAX_CONJUNCT_WORDS), start, -1):
        conjunct = words[start:end]
        if not _is_conjunct(words, start, end, taken) or (end < len(words) and not words[end].first_in_token):
            continue
        stems = tuple(w.stem for w in words[match.start:match.end - 1]) + tuple(w.stem for w in conjunct)
        hit = _lookup_any(dictionary, [stems], conjunct[-1].plural)
        if hit is not None:
            return [_match(start, end, hit, taken)]
    return []


def _connector_before(words: list[Word], position: int) -> int | None:
    """Index one past the conjunct left of ``position`` ("palmar | and plantar"), or None."""
    if position == 0:
        return None
    if words[position].comma_before:
        return position
    connector = position - 1
    if words[connector].stem in CONNECTORS or words[connector].stem == "to":
        # "and/or", ", and": step over a second connector or a comma
        if connector > 0 and words[connector - 1].stem in CONNECTORS:
            connector -= 1
        return connector if connector > 0 else None
    return None


def _conjunct_starts(words: list[Word], end: int, taken: list[bool]) -> list[int]:
    """Possible starts of the conjunct ending at ``end``: the one after a comma or connector,
    else (the leftmost conjunct) its last one or two words."""
    starts = []
    for size in range(1, MAX_CONJUNCT_WORDS + 1):
        start = end - size
        if start < 0 or not _is_conjunct(words, start, end, taken):
            break
        if start == 0 or words[start].comma_before or words[start - 1].stem in CONNECTORS or words[start - 1].stem == "to":
            return [start]
        starts.append(start)
    return starts[::-1]


def _is_conjunct(words: list[Word], start: int, end: int, taken: list[bool]) -> bool:
    span = words[start:end]
    return (
        words[start].first_in_token
        and span[-1].last_in_token
        and not any(taken[start:end])
        and not any(w.stem in FUNCTION_WORDS or w.stem.isdigit() for w in span)
        and not any(w.comma_before for w in span[1:])
    )


def _lookup_any(dictionary: MentionDictionary, candidates: list[tuple[str, ...]], plural: bool) -> tuple[list[str], str] | None:
    for stems in candidates:
        if len(stems) >= 2:
            hit = dictionary.lookup(stems, plural)
            if hit is not None:
                return hit
    return None


def _match(start: int, end: int, hit: tuple[list[str], str], taken: list[bool]) -> Match:
    from clinlink.ner.matcher import Match

    taken[start:end] = [True] * (end - start)
    return Match(start, end, hit[0], "coordination", 1.0)
