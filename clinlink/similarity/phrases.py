"""Find phrases in tokenized text, folding case, punctuation and simple inflection.

A ``*`` in a phrase stands for up to three words ("heart size * enlarged" finds
"heart size is mildly enlarged"); the gap never crosses a sentence mark (. ; : ? !)
nor a negation or normality word, so "heart size is not enlarged" and "heart size
is normal. Enlarged ..." do not match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clinlink.text.normalize import normalize

GAP = "*"
MAX_GAP = 3
_BARRIER = "|"
_SENTENCE_MARKS = frozenset(".;:?!")
_GAP_STOPS = frozenset({"no", "not", "without", "normal", "negative", "free", "clear", "resolved"})


class PhraseFinder:
    """Longest, leftmost, non-overlapping occurrences of phrases in a token sequence.

    Tokens that normalize to nothing (punctuation) are skipped, so "air-space" finds
    "air space"; each phrase carries a payload (e.g. a concept id).
    """

    def __init__(self, phrases: Mapping[str, str | None]):
        self._by_first: dict[str, dict[tuple[str, ...], str | None]] = {}
        for phrase, payload in phrases.items():
            key: list[str] = []
            for index, part in enumerate(phrase.split(GAP)):
                if index:
                    key.append(GAP)
                key.extend(normalize(part).split())
            if key and key[0] != GAP and key[-1] != GAP:
                self._by_first.setdefault(key[0], {}).setdefault(tuple(key), payload)

    def _match(self, key: tuple[str, ...], words: list[tuple[int, str]], at: int) -> int | None:
        """Index after the match of ``key`` starting at word ``at``, or None."""
        if not key:
            return at
        if key[0] == GAP:
            for skip in range(0, MAX_GAP + 1):
                if skip and (at + skip - 1 >= len(words) or words[at + skip - 1][1] in _GAP_STOPS or words[at + skip - 1][1] == _BARRIER):
                    return None
                end = self._match(key[1:], words, at + skip)
                if end is not None:
                    return end
            return None
        if at < len(words) and words[at][1] == key[0]:
            return self._match(key[1:], words, at + 1)
        return None

    def find(self, tokens: Sequence[str]) -> list[tuple[int, int, str | None]]:
        """(start token, end token, payload) of each match, longest first at each position."""
        words: list[tuple[int, str]] = []
        for position, token in enumerate(tokens):
            folded = normalize(token).split()
            if not folded and token.strip() and token.strip()[-1] in _SENTENCE_MARKS:
                words.append((position, _BARRIER))
            for word in folded:
                words.append((position, word))
        found = []
        i = 0
        while i < len(words):
            candidates = self._by_first.get(words[i][1])
            if not candidates:
                i += 1
                continue
            best: tuple[int, str | None] | None = None
            for key, payload in candidates.items():
                end = self._match(key, words, i)
                if end is not None and (best is None or end > best[0]):
                    best = (end, payload)
            if best is None:
                i += 1
                continue
            found.append((words[i][0], words[best[0] - 1][0] + 1, best[1]))
            i = best[0]
        return found

    def covers(self, text: str) -> bool:
        """True when one phrase spans the whole of ``text`` (a mention)."""
        words = text.split()
        return any(start == 0 and end == len(words) for start, end, _ in self.find(words))
