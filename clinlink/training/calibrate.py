"""Calibrating the reranker's gate and score fusion on held-out synonyms.

Queries: the non-preferred names of held-out concepts, each with its own name
row(s) masked out of the index (as in ``benchmarks/linking.py``). For every
(margin, weight) on a grid, acc@1 is what the linker would get when it
reranks exactly the lists the gate lets through; the best pair wins, the
smaller margin (fewer model calls) breaking ties.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from clinlink.linking.linker import Linker
from clinlink.linking.rerank import CrossEncoderReranker, fused_scores
from clinlink.text.normalize import normalize
from clinlink.training.splits import is_held_out

MARGINS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 1.0)
WEIGHTS = (0.25, 0.5, 0.75, 1.0)


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
) -> dict:
    """The best (margin, weight) on ``queries`` with acc@1 before and after, and the share reranked."""
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
    grid = []
    for margin in margins:
        for weight in weights:
            gated = [s for s in scored if s[0] < margin]
            change = sum(
                (int(np.argmax(fused_scores(r, p, weight))) == gold) - (gold == 0) for _, r, p, gold in gated
            )
            grid.append({"margin": margin, "weight": weight, "acc@1": (before + change) / len(queries),
                         "reranked": len(gated) / len(queries)})
    best = max(grid, key=lambda row: (row["acc@1"], -row["margin"]))
    return {**best, "acc@1_retrieval": before / len(queries), "queries": len(queries), "grid": grid}
