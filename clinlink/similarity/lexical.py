"""Lexical similarity of report texts: TF-IDF word 1-2-gram cosine, the report index's tie-breaker."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


class LexicalIndex:
    """TF-IDF vectors (word uni- and bigrams, sublinear tf, l2-normalized) of a pool of texts.

    Fitted on the pool itself with scikit-learn's ``TfidfVectorizer``, so a saved index
    rebuilds it from the texts it stores. A query is weighted by hand from the fitted
    vocabulary and idf (the vectorizer's own ``transform`` costs about 1 ms a call; the
    values are the same) and compared with the pool columns of its terms only.
    """

    def __init__(self, texts: Sequence[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        self.size = len(texts)
        try:
            self.matrix = vectorizer.fit_transform([text or "" for text in texts]).tocsc()  # reports x terms
        except ValueError:  # no text holds a word
            self.matrix = None
            return
        self.analyze = vectorizer.build_analyzer()
        self.vocabulary = vectorizer.vocabulary_
        self.idf = vectorizer.idf_

    def scores(self, text: str) -> np.ndarray:
        """Cosine of ``text`` with every pool text (0 for texts sharing no term)."""
        if self.matrix is None or not text:
            return np.zeros(self.size)
        counts = Counter(term for term in self.analyze(text) if term in self.vocabulary)
        if not counts:
            return np.zeros(self.size)
        columns = np.fromiter((self.vocabulary[term] for term in counts), dtype=np.int64, count=len(counts))
        weights = np.fromiter((1.0 + math.log(n) for n in counts.values()), dtype=np.float64, count=len(counts))
        weights *= self.idf[columns]
        weights /= np.linalg.norm(weights)
        return np.asarray(self.matrix[:, columns] @ weights).ravel()
