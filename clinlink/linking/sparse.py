"""Sparse name index: character n-gram TF-IDF over normalized names, exact top-k by sparse products.

It catches what the dense encoder misses: rare spellings, typos, long
unseen words. Row ``i`` is row ``i`` of the name table.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from clinlink.errors import KnowledgeBaseError
from clinlink.text.normalize import normalize

MATRIX_FILE = "tfidf.npz"
VOCABULARY_FILE = "tfidf_vocabulary.json"
IDF_FILE = "tfidf_idf.npy"
META_FILE = "tfidf.json"
CHUNK = 512


def _vectorizer(ngram_range: tuple[int, int], vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=ngram_range, dtype=np.float32, sublinear_tf=True, vocabulary=vocabulary
    )


class SparseIndex:
    """TF-IDF (``char_wb`` n-grams, default 3-grams) rows with cosine top-k search."""

    def __init__(self, vectorizer: TfidfVectorizer, matrix: sp.csr_matrix, metadata: dict):
        self.vectorizer = vectorizer
        self.matrix = matrix.tocsr()
        self.metadata = metadata
        self._transposed = self.matrix.T.tocsr()
        self._subsets: OrderedDict[bytes, sp.csr_matrix] = OrderedDict()

    @classmethod
    def build(cls, names: list[str], ngram_range: tuple[int, int] = (3, 3), normalized: bool = False) -> SparseIndex:
        """Fit on ``names`` (``normalized=True``: they are already ``normalize``d)."""
        vectorizer = _vectorizer(tuple(ngram_range))
        matrix = vectorizer.fit_transform(names if normalized else [normalize(name) for name in names])
        metadata = {"analyzer": "char_wb", "ngram_range": list(ngram_range), "count": len(names)}
        return cls(vectorizer, matrix, metadata)

    def __len__(self) -> int:
        return self.matrix.shape[0]

    # -- persistence --------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        sp.save_npz(directory / MATRIX_FILE, self.matrix)
        vocabulary = {term: int(column) for term, column in self.vectorizer.vocabulary_.items()}
        (directory / VOCABULARY_FILE).write_text(json.dumps(vocabulary), encoding="utf-8")
        np.save(directory / IDF_FILE, self.vectorizer.idf_)
        (directory / META_FILE).write_text(json.dumps(self.metadata, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> SparseIndex:
        directory = Path(directory)
        try:
            metadata = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
            vocabulary = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
            vectorizer = _vectorizer(tuple(metadata["ngram_range"]), vocabulary)
            vectorizer.idf_ = np.load(directory / IDF_FILE)
            matrix = sp.load_npz(directory / MATRIX_FILE)
        except (OSError, ValueError, KeyError) as error:
            raise KnowledgeBaseError(f"{directory}: cannot read the sparse index ({error}); rebuild it") from error
        return cls(vectorizer, matrix, metadata)

    # -- search -------------------------------------------------------------
    def encode(self, texts: list[str]) -> sp.csr_matrix:
        """TF-IDF rows of the normalized ``texts`` (the query form ``search_rows`` takes)."""
        return self.vectorizer.transform([normalize(text) for text in texts]).tocsr()

    def search_rows(
        self, queries: sp.csr_matrix, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` rows per query by cosine (scores, rows); ``-1`` rows where fewer have any overlap."""
        columns = self._transposed if allowed is None else self._subset(allowed)
        scores = np.full((queries.shape[0], n), -np.inf, dtype=np.float32)
        rows = np.full((queries.shape[0], n), -1, dtype=np.int64)
        for start in range(0, queries.shape[0], CHUNK):
            product = (queries[start : start + CHUNK] @ columns).tocsr()
            for offset in range(product.shape[0]):
                begin, end = product.indptr[offset], product.indptr[offset + 1]
                values, found = product.data[begin:end], product.indices[begin:end]
                if len(values) > n:
                    keep = np.argpartition(-values, n - 1)[:n]
                    values, found = values[keep], found[keep]
                order = np.argsort(-values, kind="stable")
                scores[start + offset, : len(order)] = values[order]
                rows[start + offset, : len(order)] = found[order] if allowed is None else allowed[found[order]]
        return scores, rows

    def _subset(self, allowed: np.ndarray) -> sp.csr_matrix:
        key = allowed.tobytes()
        if key not in self._subsets:
            self._subsets[key] = self.matrix[allowed].T.tocsr()
            while len(self._subsets) > 4:
                self._subsets.popitem(last=False)
        self._subsets.move_to_end(key)
        return self._subsets[key]

    def score_rows(self, query: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
        """Cosines of one query row (1 x vocabulary) with the given rows."""
        return np.asarray((self.matrix[rows] @ query.T).todense()).ravel()
