"""Calibrating the reranker's gate and score fusion on held-out synonyms.

Queries: the non-preferred names of held-out concepts, each with its own name
row(s) masked out of the index (as in ``benchmarks/linking.py``). For every
gate ``margin`` and every way to use the scores (fusion ``weight``, or a
confidence gate ``min_probability``, see :mod:`clinlink.linking.rerank`) on a
grid, acc@1 is what the linker would get when it reranks exactly the lists the
gate lets through. Synonyms overstate how well the reranker transfers to the
wording of notes, so only settings whose changes of the top candidate are right
at least ``MIN_CHANGE_PRECISION`` of the time qualify; of those within
``ACC_TOLERANCE`` of the best acc@1, the smallest margin (fewest model calls)
wins, then the best acc@1.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from clinlink.linking.linker import Linker
from clinlink.linking.rerank import CrossEncoderReranker, fused_scores, fusion_weight
from clinlink.text.normalize import normalize
from clinlink.training.splits import is_held_out

MARGINS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 1.0)
WEIGHTS = (0.25, 0.5, 0.75, 1.0)
MIN_PROBABILITIES = (0.5, 0.6, 0.7, 0.8, 0.9)
#: Share of its changes of the top candidate a qualifying setting must get right on the calibration queries.
MIN_CHANGE_PRECISION = 0.8
#: acc@1 differences this small do not pay for a wider gate (more model calls).
ACC_TOLERANCE = 0.005


@dataclass(frozen=True)
class HeldOutQuery:
    name: str
    concept_id: str
    exclude: set[int]


def held_out_queries(linker: Linker, sources: Sequence[str], limit: int | None, seed: int) -> list[HeldOutQuery]:
    """Non-preferred names of held-out concepts of ``sources`` (a seeded sample of ``limit``)."""
    wanted = {source.upper() for source in sources}
    table = linker.table
    queries = []
    for concept in linker.kb:
        if concept.source.upper() not in wanted or concept.obsolete or not is_held_out(concept.id):
            continue
        if concept.id not in table.rows_by_concept:
            continue
        for name in concept.names[1:]:
            key = normalize(name)
            rows = {int(r) for r in table.rows_by_concept[concept.id] if table.normalized[r] == key}
            queries.append(HeldOutQuery(name, concept.id, rows))
    random.Random(seed).shuffle(queries)
    return queries[:limit] if limit else queries


def calibrate(
    reranker: CrossEncoderReranker,
    linker: Linker,
    queries: Sequence[HeldOutQuery],
    margins: Sequence[float] = MARGINS,
    weights: Sequence[float] = WEIGHTS,
    min_probabilities: Sequence[float] = MIN_PROBABILITIES,
    min_change_precision: float = MIN_CHANGE_PRECISION,
) -> dict:
    """The best qualifying (margin, weight or min_probability) on ``queries`` (lists of ``reranker.top_k``),
    with acc@1 before and after, the share reranked and the precision of the changes."""
    lists = linker.retrieve([q.name for q in queries], reranker.top_k, exclude=[q.exclude for q in queries])
    widest = max(margins)
    before = 0
    gateable = []  # (gap, query, candidates) of the lists some margin on the grid would rerank
    for query, candidates in zip(queries, lists):
        before += bool(candidates) and candidates[0].concept_id == query.concept_id
        if len(candidates) < 2 or candidates[0].exact:
            continue
        gap = candidates[0].score - candidates[1].score
        if gap < widest:
            gateable.append((gap, query, candidates))
    all_logits = reranker.logits_many([(q.name, None, [c.concept_id for c in cs]) for _, q, cs in gateable])
    scored = []  # (gap, retrieval scores, probabilities, gold position or -1) of the gate-able lists
    for (gap, query, candidates), logits in zip(gateable, all_logits):
        ids = [c.concept_id for c in candidates]
        logits = np.asarray(logits)
        probabilities = np.exp(logits - logits.max())
        retrieval = np.asarray([c.score for c in candidates])
        gold = ids.index(query.concept_id) if query.concept_id in ids else -1
        scored.append((gap, retrieval, probabilities / probabilities.sum(), gold))
    uses = [{"weight": w, "min_probability": None} for w in weights]
    uses += [{"weight": 1.0, "min_probability": t} for t in min_probabilities]
    grid = []
    for margin in margins:
        gated = [s for s in scored if s[0] < margin]
        for use in uses:
            picks = [(_pick(r, p, **use), gold) for _, r, p, gold in gated]
            changed = [(pick, gold) for pick, gold in picks if pick != 0]
            right = sum(pick == gold for pick, gold in changed)
            gain = sum((pick == gold) - (gold == 0) for pick, gold in picks)
            grid.append({"margin": margin, **use, "acc@1": (before + gain) / len(queries),
                         "reranked": len(gated) / len(queries), "changed": len(changed),
                         "change_precision": right / len(changed) if changed else 1.0})
    qualified = [row for row in grid if row["changed"] == 0 or row["change_precision"] >= min_change_precision]
    top = max(row["acc@1"] for row in qualified)
    best = min((row for row in qualified if row["acc@1"] >= top - ACC_TOLERANCE), key=lambda row: (row["margin"], -row["acc@1"]))
    return {**best, "acc@1_retrieval": before / len(queries), "queries": len(queries), "top_k": reranker.top_k,
            "min_change_precision": min_change_precision, "grid": grid}


def _pick(retrieval: np.ndarray, probabilities: np.ndarray, weight: float, min_probability: float | None) -> int:
    """The position the reranker puts first (see :class:`~clinlink.linking.rerank.CrossEncoderReranker`)."""
    used = fusion_weight(probabilities, weight, min_probability)
    return 0 if used is None else int(np.argmax(fused_scores(retrieval, probabilities, used)))
