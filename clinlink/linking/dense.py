"""Dense name index: FAISS inner product over the unit vectors of every KB name.

``kind="flat"`` (default) is exact and fits up to about a million names
(memory: ``n_names * dim * 4`` bytes, e.g. 101k names x 384 = 155 MB, loaded
memory-mapped). A call with ``TORCH_MIN_QUERIES`` queries or more is searched with torch over
the stored vectors (a matrix product and ``topk`` per block of queries, filters as a row mask or a
cached copy of the allowed rows): the same results as FAISS's flat search, at 2-3x less CPU time
on one thread (101k names: 2.5-4 against 7 ms a query). FAISS scans faster for a few queries.

``kind="hnsw"`` is approximate for UMLS scale (millions of names): the same vectors plus the
graph, about ``n_names * (dim * 4 + M * 2 * 4)`` bytes (M=32: +256 bytes a name, 16M names x
384 dims = 29 GB), searched much faster.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from pathlib import Path

import faiss
import numpy as np

from clinlink.errors import KnowledgeBaseError

log = logging.getLogger(__name__)

INDEX_FILE = "dense.faiss"
META_FILE = "dense.json"
KINDS = ("flat", "hnsw")
#: Filters that keep at least half the rows are searched in the whole index, the others' rows dropped
#: (flat: masked); smaller ones that keep at most this many rows in an exact flat copy of those rows
#: (cached); the rest through a row mask (flat) or a FAISS ID selector (hnsw).
EXACT_FILTER_ROWS = 200_000
#: Queries scored together by the torch flat search: a block of scores is ``QUERY_BLOCK x rows`` floats.
QUERY_BLOCK = 128
#: (query, row) pairs scored per block by :meth:`DenseIndex.score_pairs`.
PAIR_BLOCK = 8192
#: The fewest queries searched with torch: below, FAISS's per-query scan is faster (torch's matrix
#: product of one query with 101k names took 25 ms, FAISS 7 ms; 16 queries 3 ms a query against 7).
TORCH_MIN_QUERIES = 16


class DenseIndex:
    """Row-level nearest-neighbour search; row ``i`` is row ``i`` of the name table."""

    def __init__(self, index: faiss.Index, metadata: dict):
        self.index = index
        self.metadata = metadata
        self._subsets: OrderedDict[bytes, tuple[faiss.Index, np.ndarray]] = OrderedDict()
        self._masks: OrderedDict[bytes, object] = OrderedDict()  # the torch search's excluded rows per wide filter
        self._matrix: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        metadata: dict | None = None,
        kind: str = "flat",
        hnsw_m: int = 32,
        ef_construction: int = 200,
    ) -> DenseIndex:
        """Index unit ``vectors`` (one row per name)."""
        if kind not in KINDS:
            raise ValueError(f"dense index kind must be one of {KINDS}, not {kind!r}")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        else:
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
        index.add(vectors)
        return cls(index, {"kind": kind, "dim": dim, "count": int(index.ntotal), **(metadata or {})})

    def __len__(self) -> int:
        return int(self.index.ntotal)

    # -- persistence --------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / INDEX_FILE))
        (directory / META_FILE).write_text(json.dumps(self.metadata, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> DenseIndex:
        """Load a saved index, memory-mapped where FAISS supports it for the index type."""
        directory = Path(directory)
        path = directory / INDEX_FILE
        try:
            metadata = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
            index = None
            if mmap:
                try:
                    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
                except RuntimeError:
                    log.info("%s: memory mapping not supported, reading into memory", path)
            if index is None:
                index = faiss.read_index(str(path))
        except (OSError, ValueError, RuntimeError) as error:
            raise KnowledgeBaseError(f"{path}: cannot read the dense index ({error}); rebuild it") from error
        return cls(index, metadata)

    # -- search -------------------------------------------------------------
    def search_rows(
        self, queries: np.ndarray, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` rows per query (scores, rows), ``-1`` rows where fewer exist.

        ``allowed``: sorted row ids a result may come from (None: all); exact for
        any size of the allowed set.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if isinstance(self.index, faiss.IndexFlat) and len(queries) >= TORCH_MIN_QUERIES:
            return self._search_flat(queries, n, allowed)
        if allowed is None:
            n = min(n, len(self))
            if isinstance(self.index, faiss.IndexHNSWFlat):
                self.index.hnsw.efSearch = max(64, 2 * n)
            return self.index.search(queries, n)
        if len(allowed) == 0:
            return np.full((len(queries), 0), -np.inf, np.float32), np.full((len(queries), 0), -1, np.int64)
        n = min(n, len(allowed))
        if len(allowed) * 2 >= len(self):
            return self._search_filtered(queries, n, allowed)
        if len(allowed) > EXACT_FILTER_ROWS:
            return self._search_selected(queries, n, allowed)
        # a flat copy of the allowed rows is searched with BLAS; a selector would scan row by row
        subset, rows = self._subset(allowed)
        scores, found = subset.search(queries, n)
        return scores, np.where(found >= 0, rows[np.maximum(found, 0)], -1)

    def _search_flat(self, queries: np.ndarray, n: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Exact top ``n`` of a flat index: scores of a block of queries against every (allowed) row, then ``topk``."""
        import torch

        matrix, rows, excluded = self._flat_rows(allowed)
        count = len(self) if allowed is None else len(allowed)
        n = min(n, count)
        out_scores = np.full((len(queries), n), -np.inf, dtype=np.float32)
        out_rows = np.full((len(queries), n), -1, dtype=np.int64)
        if n == 0:
            return out_scores, out_rows
        with torch.inference_mode():
            for start in range(0, len(queries), QUERY_BLOCK):
                scores = torch.from_numpy(queries[start : start + QUERY_BLOCK]) @ matrix.T
                if excluded is not None:
                    scores.masked_fill_(excluded, -torch.inf)
                values, found = torch.topk(scores, n, dim=1)
                out_scores[start : start + len(values)] = values.numpy()
                out_rows[start : start + len(values)] = found.numpy() if rows is None else rows[found.numpy()]
        return out_scores, out_rows

    def _flat_rows(self, allowed: np.ndarray | None):
        """(vectors as a tensor, their row ids or None for all rows, a mask of excluded rows or None) for a filter.

        A filter keeping at most ``EXACT_FILTER_ROWS`` rows and less than half of them uses the flat copy
        of its rows that the FAISS path keeps (:meth:`_subset`); a wider one a mask over every row
        (the last few masks are cached).
        """
        import torch

        if allowed is not None and len(allowed) <= EXACT_FILTER_ROWS and len(allowed) * 2 < len(self):
            subset, rows = self._subset(allowed)  # stays cached (most recent) while the caller searches it
            return torch.from_numpy(_stored_vectors(subset)), rows, None
        if self._matrix is None:
            self._matrix = _stored_vectors(self.index)
        every = torch.from_numpy(self._matrix)
        if allowed is None:
            return every, None, None
        key = allowed.tobytes()
        if key not in self._masks:
            excluded = torch.ones(len(self), dtype=torch.bool)
            excluded[torch.from_numpy(allowed.astype(np.int64))] = False
            self._masks[key] = excluded
            while len(self._masks) > 4:
                self._masks.popitem(last=False)
        self._masks.move_to_end(key)
        return every, None, self._masks[key]

    def _search_filtered(self, queries: np.ndarray, n: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Most rows allowed: search the whole index for more rows and drop the others; queries
        left with fewer than ``n`` allowed rows are searched again through a selector (exact)."""
        wide = min(len(self), 2 * n * len(self) // len(allowed) + 16)
        scores, rows = self.index.search(queries, wide)
        at = np.minimum(np.searchsorted(allowed, rows), len(allowed) - 1)
        keep = (allowed[at] == rows) & (rows >= 0)
        out_scores = np.full((len(queries), n), -np.inf, dtype=np.float32)
        out_rows = np.full((len(queries), n), -1, dtype=np.int64)
        short = []
        for query in range(len(queries)):
            found = rows[query][keep[query]][:n]
            if len(found) < n and wide < len(self):
                short.append(query)
                continue
            out_rows[query, : len(found)] = found
            out_scores[query, : len(found)] = scores[query][keep[query]][:n]
        if short:
            out_scores[short], out_rows[short] = self._search_selected(queries[short], n, allowed)
        return out_scores, out_rows

    def _search_selected(self, queries: np.ndarray, n: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        selector = faiss.IDSelectorBatch(allowed.astype(np.int64))
        if isinstance(self.index, faiss.IndexHNSWFlat):
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(128, 4 * n))
        else:
            params = faiss.SearchParameters(sel=selector)
        return self.index.search(queries, n, params=params)

    def _subset(self, allowed: np.ndarray) -> tuple[faiss.Index, np.ndarray]:
        """An exact flat index over the allowed rows (a few recent ones are kept)."""
        key = allowed.tobytes()
        if key in self._subsets:
            self._subsets.move_to_end(key)
            return self._subsets[key]
        subset = faiss.IndexFlatIP(self.index.d)
        subset.add(self.vectors(allowed))
        self._subsets[key] = (subset, allowed)
        while len(self._subsets) > 4:
            self._subsets.popitem(last=False)
        return subset, allowed

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of ``rows`` (FAISS copies them about 8x faster than numpy indexing of the matrix view)."""
        return self.index.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    def score_pairs(self, queries: np.ndarray, query_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Inner product of each (``queries[query_rows[j]]``, stored row ``rows[j]``) pair (in blocks:
        the gathered vectors stay small)."""
        queries = np.asarray(queries, dtype=np.float32)
        scores = np.empty(len(rows), dtype=np.float32)
        for start in range(0, len(rows), PAIR_BLOCK):
            block = slice(start, start + PAIR_BLOCK)
            scores[block] = np.einsum("ij,ij->i", self.vectors(rows[block]), queries[query_rows[block]])
        return scores


def _stored_vectors(index: faiss.IndexFlat) -> np.ndarray:
    """A flat index's vectors as a (rows, dim) array over its own memory (no copy; read only)."""
    return faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)
