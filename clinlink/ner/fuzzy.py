"""Fuzzy recall path: windows holding a word the dictionary does not know (a typo or an
unlisted inflection, "microcephalic", "pnuemonia") are compared with KB names by rapidfuzz."""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from clinlink.ner.dictionary import FUNCTION_WORDS, MentionDictionary

if TYPE_CHECKING:
    from clinlink.ner.matcher import Match, Word



def english_words_file() -> Path:
    """The WordPiece vocabulary of the base encoder (all-MiniLM-L6-v2): its whole words are common English."""
    from clinlink.linking.encoder import base_model_dir

    return base_model_dir() / "vocab.txt"


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole alphabetic words of :func:`english_words_file`: "pending", "spanning", "conclusion" are words, not
    typos of "punding", "spinning", "confusion"."""
    lines = english_words_file().read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line.isalpha() and line.islower())


class FuzzyMatcher:
    """Matches windows of up to ``max_words`` words that hold an anchor word (see :meth:`anchors`)."""

    def __init__(
        self,
        dictionary: MentionDictionary,
        min_score: float = 88.0,
        max_words: int = 4,
        min_oov_chars: int = 5,
        max_postings: int = 3000,
        min_word_score: float = 80.0,
        max_edits: int = 0,
        words: frozenset[str] = frozenset(),
    ):
        self.dictionary = dictionary
        self.max_edits = max_edits
        self.words = words  # English words, never read as a typo of a name (see :func:`english_words`)
        self.min_score = min_score
        self.max_words = max_words
        self.min_oov_chars = min_oov_chars
        self.min_word_score = min_word_score
        self.vocabulary = dictionary.vocabulary
        self._vocabulary_by_shape: dict[tuple[str, int], list[str]] = defaultdict(list)
        for word in sorted(self.vocabulary):
            self._vocabulary_by_shape[(word[0], len(word))].append(word)
        self._near_cache: dict[str, bool] = {}
        self._by_initial: dict[str, list[str]] = defaultdict(list)
        names = [key for key in dictionary.exact if key not in dictionary.fallback]  # a lexicon's phrases: as written only
        for key in names:
            if len(key) == 1 and len(key[0]) >= 6:
                self._by_initial[key[0][0]].append(key[0])
        postings: dict[str, list[str]] = defaultdict(list)
        for key in names:
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

    def anchors(self, stems: tuple[str, ...]) -> list[bool]:
        """Which words can anchor a fuzzy window: words of ``min_oov_chars`` letters or more that no
        dictionary name contains and no English word list (``words``) holds, but that are close to a word a name
        does (``min_word_score``): a typo or a variant. A word unlike any name's word ("yesterday") cannot lift a
        window to ``min_score``; an English word ("pending") is not a typo of a name ("punding")."""
        return [
            len(s) >= self.min_oov_chars and not s.isdigit() and s not in self.vocabulary and s not in self.words and self._near(s)
            for s in stems
        ]

    def _near(self, word: str) -> bool:
        near = self._near_cache.get(word)
        if near is None:
            if len(self._near_cache) > 200_000:
                self._near_cache.clear()
            size = len(word)
            # ratio >= 2 * shorter / (both lengths) bounds the lengths worth comparing;
            # the closest lengths first, where a near word most often is
            bound = self.min_word_score / (200.0 - self.min_word_score)
            sizes = sorted(range(int(size * bound), int(size / bound) + 1), key=lambda length: abs(length - size))
            buckets = (self._vocabulary_by_shape.get((word[0], length)) for length in sizes)
            near = any(
                process.extractOne(word, bucket, scorer=fuzz.ratio, score_cutoff=self.min_word_score) is not None
                for bucket in buckets
                if bucket
            )
            self._near_cache[word] = near
        return near

    def _best_single(self, word: str) -> tuple[str, float] | None:
        """Typos and variants keep their first letter: only names sharing it are compared, by similarity, else by
        edits (up to ``max_edits``: a letter wrong, missing, extra or swapped: "nausia", "anorexa", "dysuira")."""
        names = self._by_initial.get(word[0], ())
        hit = process.extractOne(word, names, scorer=fuzz.ratio, score_cutoff=self.min_score)
        if hit is not None or not self.max_edits:
            return (hit[0], hit[1]) if hit else None
        near = process.extractOne(word, names, scorer=DamerauLevenshtein.distance, score_cutoff=self.max_edits)
        return (near[0], 100.0 * (1 - near[1] / max(len(word), len(near[0])))) if near else None

    def match_at(self, words: list[Word], position: int, anchors: list[bool]) -> Match | None:
        """The longest fuzzy match starting at ``position`` and holding an anchor word (see :meth:`anchors`), or None."""
        from clinlink.ner.matcher import Match

        if words[position].stem in FUNCTION_WORDS:
            return None
        last = min(len(words), position + self.max_words)
        first_anchor = next((i for i in range(position, last) if anchors[i]), None)
        if first_anchor is None:
            return None
        for end in range(last, first_anchor, -1):
            window = words[position:end]
            if not window[-1].last_in_token or window[-1].stem in FUNCTION_WORDS:
                continue
            stems = tuple(w.stem for w in window)
            hit = self._best_window(stems)
            if hit is not None and self._anchors_aligned(stems, anchors[position:end], hit[0]):
                ids = self.dictionary.exact[tuple(hit[0].split(" "))]
                return Match(position, end, ids, "fuzzy", hit[1] / 100.0)
        return None

    def _anchors_aligned(self, stems: tuple[str, ...], anchors: list[bool], name: str) -> bool:
        """Each anchor (misspelt or variant) word of the window is itself close to a word of the matched name
        (``min_word_score``): "differential diagnosis" is not "differential cyanosis" although the windows
        score high together."""
        words = name.split(" ")
        return all(
            process.extractOne(stem, words, scorer=fuzz.ratio, score_cutoff=self.min_word_score) is not None
            for stem, anchor in zip(stems, anchors)
            if anchor
        )

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
            candidates = self._window_candidates(stems, query[0])
            found = process.extractOne(query, candidates, scorer=fuzz.ratio, score_cutoff=self.min_score)
            hit = (found[0], found[1]) if found else None
        self._window_cache[stems] = hit
        return hit

    def _window_candidates(self, stems: tuple[str, ...], initial: str) -> list[str]:
        """Names of about the window's size and first letter that hold every known content word of the
        window (the anchor is the one misspelt word); words too common to be indexed do not constrain."""
        size = len(stems)
        required = [s for s in dict.fromkeys(stems) if s in self.postings]
        if not required:
            return []
        by_word = [self.postings[s].get(initial, ()) for s in required]
        rarest = min(range(len(required)), key=lambda i: len(by_word[i]))
        others = [f" {word} " for i, word in enumerate(required) if i != rarest]
        return [
            name
            for name, count in by_word[rarest]
            if abs(count - size) <= 1 and all(word in f" {name} " for word in others)
        ]
