"""Retrieve the reports most similar to a query, by the weighted Tversky index.

The index is a sparse report x (concept, status) matrix of effective weights. Its
columns are the inverted index from concepts to reports; a query reads only the
columns of its own concepts, of their ancestors within ``depth`` and of indexed
concepts below them, so scoring touches the candidate reports only, and it gives
the same scores as :func:`clinlink.similarity.tversky` (tested).

A query returns ``k`` hits whenever the index holds ``k`` reports (other than those
excluded), best first: by Tversky score, then (ties, and reports sharing nothing with
the query) by the lexical similarity of the texts (TF-IDF word 1-2-gram cosine, when
the index holds its reports' texts and the query has one), then by index order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from clinlink.errors import ClinlinkError, SourceFormatError
from clinlink.kb.compiled import atomic_directory
from clinlink.kb.knowledge_base import KnowledgeBase
from clinlink.similarity.concept_set import ConceptSet
from clinlink.similarity.lexical import LexicalIndex
from clinlink.similarity.matcher import ConceptMatcher, matcher_for
from clinlink.similarity.params import TverskyParams
from clinlink.similarity.tversky import (
    ABSENT,
    POSSIBLE,
    PRESENT,
    Explanation,
    canonical_items,
    explain,
    resolve_params,
    share,
)

FORMAT_VERSION = 1
STATUS_COLUMN = {PRESENT: 0, POSSIBLE: 1, ABSENT: 2}
POSITIVE = ((0, PRESENT), (1, POSSIBLE))


def _first(tied: np.ndarray, lexical: np.ndarray, k: int) -> np.ndarray:
    """Up to ``k`` of the ascending rows ``tied``: the highest lexical scores, then the lowest rows
    (so that a query sharing nothing with a large index sorts k rows, not all of them)."""
    if tied.size <= k:
        return tied
    values = lexical[tied]
    cut = np.partition(values, tied.size - k)[tied.size - k]
    better = tied[values > cut]
    return np.concatenate([better, tied[values == cut][: k - better.size]])


def as_concept_set(item: Any) -> ConceptSet:
    """A ConceptSet from a ConceptSet, its dict form, or a processed Doc."""
    if isinstance(item, ConceptSet):
        return item
    if isinstance(item, Mapping):
        return ConceptSet.from_dict(item)
    if hasattr(item, "ents"):
        stored = item._.concept_set if item.has_extension("concept_set") else None
        return ConceptSet.from_dict(stored) if stored else ConceptSet.from_doc(item)
    raise TypeError(f"expected a ConceptSet, its dict or a Doc, not {type(item).__name__}")


@dataclass
class Hit:
    """One retrieved report: its id, Tversky score, the lexical tie-breaker and (on first use) the explanation."""

    id: str
    score: float
    lexical: float
    query: ConceptSet = field(repr=False)
    _index: ReportIndex = field(repr=False)
    _explanation: Explanation | None = field(default=None, repr=False)

    @property
    def concept_set(self) -> ConceptSet:
        return self._index.concept_set(self.id)

    @property
    def explanation(self) -> Explanation:
        if self._explanation is None:
            self._explanation = self._index.explain(self.query, self.id)
        return self._explanation


class ReportIndex:
    """Concept sets of many reports, queried by similarity."""

    def __init__(
        self,
        ids: list[str],
        sets: list[ConceptSet],
        matcher: ConceptMatcher,
        params: TverskyParams,
        texts: list[str] | None = None,
    ):
        if len(set(ids)) != len(ids):
            raise ClinlinkError("report ids in an index must be unique")
        if texts is not None and len(texts) != len(ids):
            raise ClinlinkError("an index needs one text per report (or none)")
        self.ids = ids
        self.sets = sets
        self.texts = texts
        self._lexical: LexicalIndex | None = None
        self.params = params
        self.matcher = matcher
        self.metadata: dict[str, Any] = {}  # saved with the index (e.g. the pipeline that made the sets)
        self._row = {report_id: row for row, report_id in enumerate(ids)}
        self._build_matrix()

    # -- construction ---------------------------------------------------------
    @classmethod
    def build(
        cls,
        items: Iterable[tuple[str, Any]],
        kb: KnowledgeBase | None = None,
        params: TverskyParams | None = None,
        texts: Mapping[str, str] | None = None,
        **settings: Any,
    ) -> ReportIndex:
        """Index ``(report_id, Doc | ConceptSet)`` pairs; settings as for :func:`tversky`.

        ``texts`` (report id -> text) keeps the texts for the lexical tie-breaker; a Doc
        brings its own text. Without any text, ties fall to index order.
        """
        params = resolve_params(params, **settings)
        ids, sets, report_texts = [], [], []
        for report_id, item in items:
            report_id = str(report_id)
            ids.append(report_id)
            sets.append(as_concept_set(item))
            text = texts.get(report_id) if texts is not None else None
            report_texts.append(text if text is not None else getattr(item, "text", None))
        has_texts = any(text is not None for text in report_texts)
        return cls(ids, sets, matcher_for(kb, params), params, [t or "" for t in report_texts] if has_texts else None)

    def _build_matrix(self) -> None:
        vocab: dict[str, int] = {}
        rows, cols, values = [], [], []
        totals = np.zeros(len(self.sets))
        for row, concept_set in enumerate(self.sets):
            for rep, item in canonical_items(concept_set, self.matcher, self.params).items():
                column = vocab.setdefault(rep, len(vocab))
                rows.append(row)
                cols.append(3 * column + STATUS_COLUMN[item.status])
                values.append(item.weight)
                if item.status != ABSENT:
                    totals[row] += item.weight
        self.vocab = vocab
        self.matrix = sp.csc_matrix(
            (np.asarray(values, dtype=np.float64), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
            shape=(len(self.sets), 3 * len(vocab)),
        )
        self.matrix.sort_indices()
        self.totals = totals
        below: dict[str, list[tuple[str, int]]] = {}
        for rep in vocab:
            for ancestor, steps in self.matcher.ancestors(rep).items():
                below.setdefault(ancestor, []).append((rep, steps))
        self._below = below

    # -- lookup ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, report_id: object) -> bool:
        return report_id in self._row

    def concept_set(self, report_id: str) -> ConceptSet:
        row = self._row.get(report_id)
        if row is None:
            raise KeyError(f"report {report_id!r} is not in the index")
        return self.sets[row]

    def explain(self, query: Any, report_id: str) -> Explanation:
        """How the query and an indexed report compare, concept by concept."""
        return explain(self._query_set(query), self.concept_set(report_id), matcher=self.matcher, params=self.params)

    def _query_set(self, query: Any) -> ConceptSet:
        if isinstance(query, str):
            return self.concept_set(query)
        return as_concept_set(query)

    # -- scoring --------------------------------------------------------------
    def _column(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.matrix.indptr[column], self.matrix.indptr[column + 1]
        return self.matrix.indices[start:end], self.matrix.data[start:end]

    def scores(self, query: Any) -> np.ndarray:
        """The Tversky score of the query against every indexed report (row order)."""
        params, matcher = self.params, self.matcher
        items = canonical_items(self._query_set(query), matcher, params)
        size = len(self.ids)
        query_matched = np.zeros(size)  # sum over query concepts of w * best credit in the report
        report_matched = np.zeros(size)  # sum over report concepts of w * best credit in the query
        contradiction = np.zeros(size)
        shared_absent = np.zeros(size)
        report_credit: dict[int, float] = {}
        negated: set[int] = set()
        query_total = 0.0
        for rep, item in items.items():
            if item.status == ABSENT:
                self._score_absent(rep, item.weight, negated, shared_absent)
                continue
            query_total += item.weight
            best = np.zeros(size)
            for neighbour, steps in self._neighbours(rep).items():
                column = self.vocab.get(neighbour)
                if column is None:
                    continue
                for offset, status in POSITIVE:
                    rows, _ = self._column(3 * column + offset)
                    if rows.size == 0:
                        continue
                    credit = params.decay**steps * share(item.status, status, params.possible_weight)
                    best[rows] = np.maximum(best[rows], credit)
                    back = params.decay**steps * share(status, item.status, params.possible_weight)
                    key = 3 * column + offset
                    report_credit[key] = max(report_credit.get(key, 0.0), back)
            query_matched += item.weight * best
            denied = np.zeros(size, dtype=bool)
            for negation in (rep, *matcher.ancestors(rep)):
                column = self.vocab.get(negation)
                if column is not None:
                    denied[self._column(3 * column + 2)[0]] = True
            contradiction[denied] += item.weight
        for key, credit in report_credit.items():
            rows, values = self._column(key)
            report_matched[rows] += values * credit
        for key in negated:
            rows, values = self._column(key)
            contradiction[rows] += values
        intersection = 0.5 * (query_matched + report_matched) + shared_absent
        only_query = np.maximum(query_total - query_matched, 0.0)
        only_report = np.maximum(self.totals - report_matched, 0.0)
        difference = params.alpha * np.minimum(only_query, only_report) + (1.0 - params.alpha) * np.maximum(
            only_query, only_report
        )
        denominator = intersection + params.beta * difference + contradiction
        result = np.zeros(size)
        candidates = intersection > 0
        result[candidates] = intersection[candidates] / denominator[candidates]
        result[denominator <= 0.0] = 1.0
        return result

    def _neighbours(self, rep: str) -> dict[str, int]:
        """Indexed concepts on the query concept's line of descent within depth -> steps."""
        found = {rep: 0}
        for other, steps in (*self.matcher.ancestors(rep).items(), *self._below.get(rep, ())):
            if steps < found.get(other, steps + 1):
                found[other] = steps
        return found

    def _score_absent(self, rep: str, weight: float, negated: set[int], shared_absent: np.ndarray) -> None:
        for below, _ in ((rep, 0), *self._below.get(rep, ())):
            column = self.vocab.get(below)
            if column is not None:
                negated.update((3 * column, 3 * column + 1))
        column = self.vocab.get(rep)
        if self.params.absent_weight > 0 and column is not None:
            rows, values = self._column(3 * column + 2)
            shared_absent[rows] += self.params.absent_weight * 0.5 * (weight + values)

    def lexical_scores(self, text: str | None) -> np.ndarray:
        """TF-IDF cosine of ``text`` with every indexed report's text (zeros without texts)."""
        if self.texts is None or not text:
            return np.zeros(len(self.ids))
        if self._lexical is None:
            self._lexical = LexicalIndex(self.texts)
        return self._lexical.scores(text)

    def query(self, query: Any, k: int = 10, exclude: Iterable[str] = (), text: str | None = None) -> list[Hit]:
        """The ``k`` most similar reports, best first (fewer only when the index holds fewer).

        Order: Tversky score, then the lexical similarity of the texts, then index order.
        ``query`` is a Doc, a ConceptSet (or its dict) or the id of an indexed report; an
        id query leaves that report out of the hits. ``text``: the query's text for the
        tie-breaker (default: a Doc's text, or the indexed report's).
        """
        query_set = self._query_set(query)
        skip = set(exclude)
        if isinstance(query, str):
            skip.add(query)
            text = text if text is not None else self._text_of(query)
        elif text is None:
            text = getattr(query, "text", None)
        scores = self.scores(query_set)
        allowed = np.ones(len(self.ids), dtype=bool)
        for report_id in skip:
            row = self._row.get(report_id)
            if row is not None:
                allowed[row] = False
        rows = np.flatnonzero(allowed)
        if k <= 0 or rows.size == 0:
            return []
        k = min(k, rows.size)
        threshold = np.partition(scores[rows], rows.size - k)[rows.size - k]
        lexical = self.lexical_scores(text)
        candidates = np.concatenate([rows[scores[rows] > threshold], _first(rows[scores[rows] == threshold], lexical, k)])
        order = candidates[np.lexsort((candidates, -lexical[candidates], -scores[candidates]))][:k]
        return [Hit(self.ids[row], float(scores[row]), float(lexical[row]), query_set, self) for row in order]

    def _text_of(self, report_id: str) -> str | None:
        row = self._row.get(report_id)
        return self.texts[row] if self.texts is not None and row is not None else None

    # -- persistence ----------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the index to a directory (replaced atomically)."""
        target = Path(directory)
        with atomic_directory(target) as staging:
            concept_ids = sorted({c for s in self.sets for c in s.concepts})
            meta = {
                "format": FORMAT_VERSION, "params": self.params.to_dict(), "reports": len(self.ids), "metadata": self.metadata,
            }
            (staging / "meta.json").write_text(json.dumps(meta, indent=1))
            (staging / "concepts.json").write_text(json.dumps(self.matcher.export(concept_ids)))
            with open(staging / "reports.jsonl", "w", encoding="utf-8") as out:
                for row, (report_id, concept_set) in enumerate(zip(self.ids, self.sets)):
                    record = {"id": report_id, **concept_set.to_dict()}
                    if self.texts is not None:
                        record["text"] = self.texts[row]
                    out.write(json.dumps(record, separators=(",", ":")) + "\n")
        return target

    @staticmethod
    def _read_meta(path: Path) -> dict[str, Any]:
        meta_path = path / "meta.json"
        if not meta_path.exists():
            raise SourceFormatError(path, "not a clinlink report index (no meta.json)")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise SourceFormatError(meta_path, f"index format {meta.get('format')} is not {FORMAT_VERSION}; rebuild it")
        return meta

    @classmethod
    def read_metadata(cls, directory: str | Path) -> dict[str, Any]:
        """The metadata saved with an index, without loading it."""
        return dict(cls._read_meta(Path(directory)).get("metadata", {}))

    @classmethod
    def load(cls, directory: str | Path, kb: KnowledgeBase | None = None) -> ReportIndex:
        """Read a saved index. Concepts the index never saw are folded, weighted and placed in the
        hierarchy through ``kb`` when given (else they match exactly, with the default weight)."""
        path = Path(directory)
        meta = cls._read_meta(path)
        params = TverskyParams(**meta["params"])
        matcher = ConceptMatcher.from_tables(json.loads((path / "concepts.json").read_text()), params, kb)
        ids, sets, texts = [], [], []
        with open(path / "reports.jsonl", encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    record = json.loads(line)
                    ids.append(record.pop("id"))
                    texts.append(record.pop("text", None))
                    sets.append(ConceptSet.from_dict(record))
                except (ValueError, KeyError) as error:
                    raise SourceFormatError(path / "reports.jsonl", f"bad record: {error}", number) from error
        has_texts = any(text is not None for text in texts)
        index = cls(ids, sets, matcher, params, [t or "" for t in texts] if has_texts else None)
        index.metadata = dict(meta.get("metadata", {}))
        return index
