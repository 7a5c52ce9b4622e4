"""Sparse name index: character n-gram TF-IDF over normalized names, exact top-k by sparse products.

It catches what the dense encoder misses: rare spellings, typos, long
unseen words. Row ``i`` is row ``i`` of the name table. scikit-learn's
``TfidfVectorizer`` fits the index; queries are weighted by
:class:`CharNgramTfidf` from the saved vocabulary and idf (numpy only, so
loading the index does not import scikit-learn).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import OrderedDict
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from clinlink.errors import KnowledgeBaseError
from clinlink.kb.compiled import atomic_directory, keep_newest
from clinlink.text.normalize import normalize

log = logging.getLogger(__name__)

MATRIX_FILE = "tfidf.npz"
VOCABULARY_FILE = "tfidf_vocabulary.json"
IDF_FILE = "tfidf_idf.npy"
META_FILE = "tfidf.json"
SUBSET_DIR = "subsets"  # a filter's columns, saved beside a loaded index (the directory is replaced on rebuild)
KEEP_SUBSETS = 8
SUBSET_PARTS = ("data", "indices", "indptr")
CHUNK = 512
_WHITE_SPACES = re.compile(r"\s\s+")


class CharNgramTfidf:
    """The query side of a fitted ``TfidfVectorizer(analyzer="char_wb", sublinear_tf=True,
    dtype=float32)``: same n-grams, weights and L2 norm, from its vocabulary and idf."""

    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray, ngram_range: tuple[int, int]):
        self.vocabulary = vocabulary
        self.idf = np.asarray(idf, dtype=np.float32)
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        if len(self.idf) != len(vocabulary):
            raise ValueError(f"{len(vocabulary)} n-grams but {len(self.idf)} idf values")

    def ngrams(self, text: str) -> list[str]:
        """scikit-learn's ``char_wb`` n-grams of lowercased ``text``: within words padded by one space."""
        min_n, max_n = self.ngram_range
        found = []
        for word in _WHITE_SPACES.sub(" ", text.lower()).split():
            word = f" {word} "
            for n in range(min_n, max_n + 1):
                offset = 0
                found.append(word[:n])
                while offset + n < len(word):
                    offset += 1
                    found.append(word[offset : offset + n])
                if offset == 0:  # a word shorter than n counts once
                    break
        return found

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """One L2-normalized row of ``(1 + log tf) * idf`` per text (float32, sorted columns)."""
        vocabulary = self.vocabulary
        columns: list[int] = []
        counts: list[int] = []
        indptr = [0]
        for text in texts:
            row: dict[int, int] = {}
            for gram in self.ngrams(text):
                column = vocabulary.get(gram)
                if column is not None:
                    row[column] = row.get(column, 0) + 1
            columns.extend(row)
            counts.extend(row.values())
            indptr.append(len(columns))
        matrix = sp.csr_matrix(
            (np.asarray(counts, dtype=np.float32), np.asarray(columns, dtype=np.int32), np.asarray(indptr, dtype=np.int32)),
            shape=(len(texts), len(self.idf)),
        )
        matrix.sort_indices()
        data = matrix.data
        np.log(data, out=data)
        data += 1.0
        data *= self.idf[matrix.indices]
        matrix.data = _l2_normalized(data, matrix.indptr)
        return matrix


def _l2_normalized(data: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm as scikit-learn does it (float32 squares summed in order in
    double precision, divided in double), so query vectors match the fitted matrix bit for bit."""
    lengths = np.diff(indptr)
    starts = indptr[:-1]
    squares = (data * data).astype(np.float64)
    totals = np.zeros(len(lengths), dtype=np.float64)
    for position in range(int(lengths.max(initial=0))):
        live = np.flatnonzero(lengths > position)
        totals[live] += squares[starts[live] + position]
    norms = np.repeat(np.sqrt(totals), lengths)
    normalized = data.astype(np.float64)
    np.divide(normalized, norms, out=normalized, where=norms > 0)
    return normalized.astype(np.float32)


class SparseIndex:
    """TF-IDF (``char_wb`` n-grams, default 3-grams) rows with cosine top-k search."""

    def __init__(self, weights: CharNgramTfidf, matrix: sp.csr_matrix, metadata: dict, directory: Path | None = None):
        self.weights = weights
        self.matrix = matrix.tocsr()
        self.metadata = metadata
        self.directory = directory  # where it was loaded from: filters' columns are saved there
        self._subsets: OrderedDict[bytes, sp.csr_matrix] = OrderedDict()

    @classmethod
    def build(cls, names: list[str], ngram_range: tuple[int, int] = (3, 3), normalized: bool = False) -> SparseIndex:
        """Fit on ``names`` (``normalized=True``: they are already ``normalize``d)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(ngram_range), dtype=np.float32, sublinear_tf=True)
        matrix = vectorizer.fit_transform(names if normalized else [normalize(name) for name in names])
        vocabulary = {term: int(column) for term, column in vectorizer.vocabulary_.items()}
        metadata = {"analyzer": "char_wb", "ngram_range": list(ngram_range), "count": len(names)}
        return cls(CharNgramTfidf(vocabulary, vectorizer.idf_, ngram_range), sp.csr_matrix(matrix), metadata)

    def __len__(self) -> int:
        return self.matrix.shape[0]

    # -- persistence --------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        sp.save_npz(directory / MATRIX_FILE, self.matrix, compressed=False)
        (directory / VOCABULARY_FILE).write_text(json.dumps(self.weights.vocabulary), encoding="utf-8")
        np.save(directory / IDF_FILE, self.weights.idf)
        (directory / META_FILE).write_text(json.dumps(self.metadata, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> SparseIndex:
        directory = Path(directory)
        try:
            metadata = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
            vocabulary = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
            weights = CharNgramTfidf(vocabulary, np.load(directory / IDF_FILE), metadata["ngram_range"])
            matrix = sp.load_npz(directory / MATRIX_FILE)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise KnowledgeBaseError(f"{directory}: cannot read the sparse index ({error}); rebuild it") from error
        if matrix.shape != (metadata.get("count", matrix.shape[0]), len(weights.idf)):
            raise KnowledgeBaseError(f"{directory}: the TF-IDF matrix does not fit its vocabulary; rebuild it")
        return cls(weights, matrix, metadata, directory)

    # -- search -------------------------------------------------------------
    def encode(self, texts: list[str]) -> sp.csr_matrix:
        """TF-IDF rows of the normalized ``texts`` (the query form ``search_rows`` takes)."""
        return self.weights.transform([normalize(text) for text in texts])

    def search_rows(
        self, queries: sp.csr_matrix, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` rows per query by cosine (scores, rows); ``-1`` rows where fewer have any overlap."""
        columns = self._columns if allowed is None else self._subset(allowed)
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

    @cached_property
    def _columns(self) -> sp.csr_matrix:
        """The matrix transposed, for unfiltered searches (built on the first: filtered searches use :meth:`_subset`)."""
        return self.matrix.T.tocsr()

    def _subset(self, allowed: np.ndarray) -> sp.csr_matrix:
        key = allowed.tobytes()
        if key not in self._subsets:
            self._subsets[key] = self._saved_subset(allowed)
            while len(self._subsets) > 4:
                self._subsets.popitem(last=False)
        self._subsets.move_to_end(key)
        return self._subsets[key]

    def _saved_subset(self, allowed: np.ndarray) -> sp.csr_matrix:
        """The ``allowed`` rows' matrix transposed, memory-mapped from ``subsets/`` in the index directory when
        saved there (1 ms, against 0.1 s to work out for the default filter's 93k rows; processes share the
        pages), else worked out and saved (best effort: a read-only or in-memory index keeps it in memory)."""
        folder = None
        shape = (self.matrix.shape[1], len(allowed))
        if self.directory is not None:
            folder = Path(self.directory) / SUBSET_DIR / hashlib.sha256(allowed.tobytes()).hexdigest()[:24]
            try:
                data, indices, indptr = (np.load(folder / f"{part}.npy", mmap_mode="r", allow_pickle=False) for part in SUBSET_PARTS)
                return sp.csr_matrix((data, indices, indptr), shape=shape, copy=False)
            except FileNotFoundError:
                pass
            except (OSError, ValueError) as error:
                log.warning("%s: unreadable (%s), recomputing", folder, error)
        subset = self.matrix[allowed].T.tocsr()
        if folder is not None:
            _save_subset(folder, subset)
        return subset

    def score_pairs(self, queries: sp.csr_matrix, query_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosine of each (``queries[query_rows[j]]``, name ``rows[j]``) pair."""
        return np.asarray(self.matrix[rows].multiply(queries[query_rows]).sum(axis=1), dtype=np.float32).ravel()


def _save_subset(folder: Path, subset: sp.csr_matrix) -> None:
    """Written through a staging folder; keeps the ``KEEP_SUBSETS`` most recent filters' columns."""
    try:
        with atomic_directory(folder) as staging:  # also replaces an unreadable copy
            for part in SUBSET_PARTS:
                np.save(staging / f"{part}.npy", getattr(subset, part), allow_pickle=False)
        keep_newest((entry for entry in folder.parent.iterdir() if not entry.name.startswith(".")), KEEP_SUBSETS)
    except OSError as error:
        log.debug("%s: filter columns not saved (%s)", folder, error)
