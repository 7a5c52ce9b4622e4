"""Fuzzy recall path: windows holding a word the dictionary does not know (a typo or an
unlisted inflection, "microcephalic", "pnuemonia") are compared with KB names by rapidfuzz."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from clinlink.ner.dictionary import FUNCTION_WORDS, MentionDictionary

if TYPE_CHECKING:
    from clinlink.ner.matcher import Match, Word



class FuzzyMatcher:
    """Matches windows of up to ``max_words`` words that contain an out-of-vocabulary word."""

    def __init__(
        self,
        dictionary: MentionDictionary,
        min_score: float = 88.0,
        max_words: int = 4,
        min_oov_chars: int = 5,
        max_postings: int = 3000,
    ):
        self.dictionary = dictionary
        self.min_score = min_score
        self.max_words = max_words
        self.min_oov_chars = min_oov_chars
        self.vocabulary = dictionary.vocabulary
        self._by_initial: dict[str, list[str]] = defaultdict(list)
        for key in dictionary.exact:
            if len(key) == 1 and len(key[0]) >= 6:
                self._by_initial[key[0][0]].append(key[0])
        postings: dict[str, list[str]] = defaultdict(list)
        for key in dictionary.exact:
            if 1 < len(key) <= max_words + 1:
                for word in set(key):
                    postings[word].append(" ".join(key))
        # word -> first letter -> [(name, word count)]: candidates share the query's first letter
        self.postings: dict[str, dict[str, list[tuple[str, int]]]] = {}
        for word, names in postings.items():
            if len(names) <= max_postings:
                by_initial: dict[str, list[tuple[str, int]]] = defaultdict(list)
                for name in names:
                    by_initial[name[0]].append((name, name.count(" ") + 1))
                self.postings[word] = dict(by_initial)
        self._window_cache: dict[tuple[str, ...], tuple[str, float] | None] = {}

    def _is_oov(self, stem: str) -> bool:
        return len(stem) >= self.min_oov_chars and not stem.isdigit() and stem not in self.vocabulary

    def _best_single(self, word: str) -> tuple[str, float] | None:
        """Typos and variants keep their first letter: only names sharing it are compared."""
        names = self._by_initial.get(word[0], ())
        hit = process.extractOne(word, names, scorer=fuzz.ratio, score_cutoff=self.min_score)
        return (hit[0], hit[1]) if hit else None

    def match_at(self, words: list[Word], position: int) -> Match | None:
        """The longest fuzzy match starting at ``position``, or None."""
        from clinlink.ner.matcher import Match

        if words[position].stem in FUNCTION_WORDS:
            return None
        last = min(len(words), position + self.max_words)
        first_oov = next((i for i in range(position, last) if self._is_oov(words[i].stem)), None)
        if first_oov is None:
            return None
        for end in range(last, first_oov, -1):
            window = words[position:end]
            if not window[-1].last_in_token or window[-1].stem in FUNCTION_WORDS:
                continue
            hit = self._best_window(tuple(w.stem for w in window))
            if hit is not None:
                ids = self.dictionary.exact[tuple(hit[0].split(" "))]
                return Match(position, end, ids, "fuzzy", hit[1] / 100.0)
        return None

    def _best_window(self, stems: tuple[str, ...]) -> tuple[str, float] | None:
        """The best dictionary name for a window (cached: notes repeat their phrases)."""
        if stems in self._window_cache:
            return self._window_cache[stems]
        if len(self._window_cache) > 100_000:
            self._window_cache.clear()
        query = " ".join(stems)
        if len(stems) == 1:
            hit = self._best_single(query)
        else:
            size, initial = len(stems), query[0]
            candidates = {
                name
                for s in stems
                for name, count in self.postings.get(s, {}).get(initial, ())
                if abs(count - size) <= 1
            }
            found = process.extractOne(query, candidates, scorer=fuzz.ratio, score_cutoff=self.min_score)
            hit = (found[0], found[1]) if found else None
        self._window_cache[stems] = hit
        return hit
