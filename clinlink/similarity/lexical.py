"""Lexical similarity of report texts: TF-IDF word 1-2-gram cosine, the report index's tie-breaker."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class LexicalIndex:
    """TF-IDF vectors (word uni- and bigrams, sublinear tf, l2-normalized) of a pool of texts.

    Fitted on the pool itself, so a saved index rebuilds it from the texts it stores.
    """

    def __init__(self, texts: Sequence[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        self.matrix = self.vectorizer.fit_transform([text or "" for text in texts]).T.tocsr()  # terms x reports
        self.size = len(texts)

    def scores(self, text: str) -> np.ndarray:
        """Cosine of ``text`` with every pool text (0 for texts sharing no term)."""
        if not text or not text.strip() or self.matrix.shape[0] == 0:
            return np.zeros(self.size)
        query = self.vectorizer.transform([text])
        return np.asarray((query @ self.matrix).todense()).ravel()
