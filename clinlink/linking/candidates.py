"""Candidates: name-level hits grouped per concept, dense and sparse merged, exact names first.

A concept's score from one retriever is the maximum over its names. The
ensemble score is ``w * dense + (1 - w) * sparse`` ("sum") or
``max(w * dense, (1 - w) * sparse)`` ("max", xMEN's weighted max); a concept
found by one retriever only gets its other component computed exactly, so
both methods compare like with like. A mention whose normalized form equals a
name of a concept ranks that concept first, with score 1.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from clinlink.linking.names import NameTable

#: Top-candidate score below which a mention is NIL: the 2nd percentile of right top-1 scores on held-out
#: HPO synonyms (benchmarks/linking.py), so about 2 % of right links there are dropped.
NIL_THRESHOLD = 0.675

MERGE_METHODS = ("sum", "max")


@dataclass(slots=True)
class Candidate:
    """A concept proposed for a mention.

    ``name`` is the concept's preferred name, ``matched_name`` the KB name
    that scored best; ``retrieved_by`` says which retrievers found it
    ("dense", "sparse", "dense+sparse", "exact", "rerank" once reordered).
    """

    concept_id: str
    name: str
    score: float
    matched_name: str = ""
    retrieved_by: str = ""
    dense_score: float | None = None
    sparse_score: float | None = None
    rerank_score: float | None = None
    exact: bool = False

    def as_list(self) -> list[Any]:
        """``[concept_id, name, score]``, the form stored on spaCy spans."""
        return [self.concept_id, self.name, round(float(self.score), 4)]


@runtime_checkable
class Reranker(Protocol):
    """What the linker needs from a reranker (e.g. a cross-encoder in ``clinlink.linking.rerank``).

    The linker retrieves ``top_k`` candidates, asks ``should_rerank`` of each list (the gate:
    False when retrieval is already safe, e.g. a wide margin or an exact name),
    and calls ``rerank`` once with the lists that are not, which returns each list
    reordered and rescored (``score`` in [0, 1], ``rerank_score`` set), best first.
    """

    top_k: int

    def should_rerank(self, mention: str, candidates: list[Candidate]) -> bool: ...

    def rerank(
        self, mentions: Sequence[str], contexts: Sequence[str | None], lists: Sequence[list[Candidate]]
    ) -> list[list[Candidate]]: ...


def rerank_gated(
    reranker: Reranker, mentions: Sequence[str], contexts: Sequence[str | None] | None, lists: list[list[Candidate]]
) -> list[list[Candidate]]:
    """``lists`` with the ones the reranker's gate lets through reranked (in one call); the others as they were."""
    gated = [i for i, candidates in enumerate(lists) if candidates and reranker.should_rerank(mentions[i], candidates)]
    if not gated:
        return lists
    reranked = reranker.rerank(
        [mentions[i] for i in gated], [contexts[i] if contexts is not None else None for i in gated], [lists[i] for i in gated]
    )
    result = list(lists)
    for i, candidates in zip(gated, reranked):
        result[i] = candidates
    return result


def group_rows(
    scores: np.ndarray, rows: np.ndarray, table: NameTable, k: int, exclude: set[int] | None = None
) -> dict[str, tuple[float, int]]:
    """The first ``k`` distinct concepts of a score-sorted row list, each with its best (score, row)."""
    best: dict[str, tuple[float, int]] = {}
    for score, row in zip(scores.tolist(), rows.tolist()):
        if row < 0 or (exclude and row in exclude):
            continue
        concept_id = table.concept_ids[row]
        if concept_id not in best:
            if len(best) == k:
                break
            best[concept_id] = (score, row)
    return best


def search_concepts(
    index: Any,
    queries: Any,
    table: NameTable,
    k: int,
    allowed: np.ndarray | None = None,
    exclude: Sequence[set[int]] | None = None,
    oversample: int = 4,
) -> list[dict[str, tuple[float, int]]]:
    """Top ``k`` concepts per query from a row-level index (``search_rows(queries, n, allowed)``).

    Searches ``k * oversample`` names, then more for the queries whose names
    crowd into fewer than ``k`` concepts, until ``k`` concepts or no more rows.
    """
    count = len(table) if allowed is None else len(allowed)
    extra = max((len(e) for e in exclude), default=0) if exclude else 0
    n = min(count, k * oversample + extra)
    results: list[dict[str, tuple[float, int]]] = [{} for _ in range(queries.shape[0])]
    pending = np.arange(queries.shape[0])
    while len(pending):
        scores, rows = index.search_rows(queries[pending], n, allowed)
        still = []
        for position, query in enumerate(pending.tolist()):
            grouped = group_rows(scores[position], rows[position], table, k, exclude[query] if exclude else None)
            results[query] = grouped
            exhausted = n >= count or (rows[position] < 0).any()
            if len(grouped) < k and not exhausted:
                still.append(query)
        pending = np.asarray(still, dtype=np.int64)
        n = min(count, n * 4)
    return results


def merge(
    dense: dict[str, tuple[float, int]] | None,
    sparse: dict[str, tuple[float, int]] | None,
    missing_dense: dict[str, tuple[float, int]] | None = None,
    missing_sparse: dict[str, tuple[float, int]] | None = None,
    weight: float = 0.5,
    method: str = "sum",
) -> dict[str, tuple[float, float | None, float | None, int, str]]:
    """Ensemble per concept: concept -> (score, dense, sparse, best row, retrieved_by).

    ``dense`` / ``sparse`` are one query's hits of each retriever (None: that
    retriever is not used); ``missing_dense`` / ``missing_sparse`` hold the exact
    (score, row) of the concepts only the other retriever proposed.
    """
    if method not in MERGE_METHODS:
        raise ValueError(f"merge method must be one of {MERGE_METHODS}, not {method!r}")
    if sparse is None:
        return {c: (score, score, None, row, "dense") for c, (score, row) in (dense or {}).items()}
    if dense is None:
        return {c: (score, None, score, row, "sparse") for c, (score, row) in sparse.items()}
    merged: dict[str, tuple[float, float | None, float | None, int, str]] = {}
    for concept_id in dict.fromkeys([*dense, *sparse]):
        d_score, d_row = dense.get(concept_id) or missing_dense[concept_id]
        s_score, s_row = sparse.get(concept_id) or missing_sparse[concept_id]
        found = "+".join(name for name, hits in (("dense", dense), ("sparse", sparse)) if concept_id in hits)
        if method == "sum":
            score = weight * d_score + (1 - weight) * s_score
        else:
            score = max(weight * d_score, (1 - weight) * s_score)
        row = d_row if weight * d_score >= (1 - weight) * s_score else s_row
        merged[concept_id] = (score, d_score, s_score, row, found)
    return merged


def rank(
    merged: dict[str, tuple[float, float | None, float | None, int, str]],
    exact: set[str],
    table: NameTable,
    preferred_name: Any,
    k: int,
) -> list[Candidate]:
    """Top ``k`` candidates best first: exact normalized-name matches (score 1.0), then by ensemble score.

    Sorts the merged tuples first and looks up preferred names for the ``k`` kept only.
    """

    def key(item: tuple[str, tuple]) -> tuple[bool, float, float]:
        concept_id, (score, dense, _, _, _) = item
        is_exact = concept_id in exact
        return is_exact, 1.0 if is_exact else float(min(score, 1.0)), dense or 0.0

    candidates = []
    for concept_id, (score, dense, sparse, row, found) in sorted(merged.items(), key=key, reverse=True)[:k]:
        is_exact = concept_id in exact
        candidates.append(
            Candidate(
                concept_id=concept_id,
                name=preferred_name(concept_id),
                score=1.0 if is_exact else float(min(score, 1.0)),
                matched_name=table.names[row],
                retrieved_by="exact" if is_exact and not found else found,
                dense_score=None if dense is None else float(dense),
                sparse_score=None if sparse is None else float(sparse),
                exact=is_exact,
            )
        )
    return candidates
