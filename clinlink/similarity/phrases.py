"""Find phrases in tokenized text, folding case, punctuation and simple inflection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clinlink.text.normalize import normalize


class PhraseFinder:
    """Longest, leftmost, non-overlapping occurrences of phrases in a token sequence.

    Tokens that normalize to nothing (punctuation) are skipped, so "air-space" finds
    "air space"; each phrase carries a payload (e.g. a concept id).
    """

    def __init__(self, phrases: Mapping[str, str | None]):
        self._phrases: dict[tuple[str, ...], str | None] = {}
        for phrase, payload in phrases.items():
            key = tuple(normalize(phrase).split())
            if key:
                self._phrases.setdefault(key, payload)
        self._longest = max((len(k) for k in self._phrases), default=0)
        self._first = {key[0] for key in self._phrases}

    def find(self, tokens: Sequence[str]) -> list[tuple[int, int, str | None]]:
        """(start token, end token, payload) of each match."""
        words: list[tuple[int, str]] = []
        for position, token in enumerate(tokens):
            for word in normalize(token).split():
                words.append((position, word))
        found = []
        i = 0
        while i < len(words):
            if words[i][1] not in self._first:
                i += 1
                continue
            for length in range(min(self._longest, len(words) - i), 0, -1):
                key = tuple(word for _, word in words[i : i + length])
                if key in self._phrases:
                    found.append((words[i][0], words[i + length - 1][0] + 1, self._phrases[key]))
                    i += length
                    break
            else:
                i += 1
        return found
