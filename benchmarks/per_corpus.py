"""Scoring helpers shared by the HPO benchmarks: each corpus apart, pooled, and leave-one-corpus-out choices.

Plain Python (no clinlink import), so tests run them on synthetic data.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

POOLED = "pooled"

Span = tuple[int, int, str]  # start, end, concept id


def prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score_mentions(
    gold: Sequence[Sequence[Span]], predicted: Sequence[Sequence[Span]], resolve: Callable[[str], str] = str
) -> dict[str, float]:
    """Strict (same span and concept), overlap (overlapping span, same concept) and document-level
    (concept sets per document) P/R/F1, micro-averaged over documents; ``resolve`` maps ids to their
    current id (alt ids, replaced terms) on both sides."""
    strict_tp = overlap_tp = n_pred = n_gold = 0
    doc_tp = doc_pred = doc_gold = 0
    for gold_spans, predicted_spans in zip(gold, predicted, strict=True):
        gold_spans = [(s, e, resolve(c)) for s, e, c in gold_spans]
        predicted_spans = [(s, e, resolve(c)) for s, e, c in predicted_spans]
        n_pred += len(predicted_spans)
        n_gold += len(gold_spans)
        strict_tp += len(set(gold_spans) & set(predicted_spans))
        overlap_tp += sum(
            any(ps < ge and gs < pe and pc == gc for ps, pe, pc in predicted_spans) for gs, ge, gc in gold_spans
        )
        gold_ids, predicted_ids = {g[2] for g in gold_spans}, {p[2] for p in predicted_spans}
        doc_tp += len(gold_ids & predicted_ids)
        doc_pred += len(predicted_ids)
        doc_gold += len(gold_ids)
    strict = prf(strict_tp, n_pred, n_gold)
    overlap = prf(overlap_tp, n_pred, n_gold)  # recall over gold mentions, precision over predictions
    document = prf(doc_tp, doc_pred, doc_gold)
    return {
        "strict_p": strict[0], "strict_r": strict[1], "strict_f1": strict[2],
        "overlap_p": overlap[0], "overlap_r": overlap[1], "overlap_f1": overlap[2],
        "doc_p": document[0], "doc_r": document[1], "doc_f1": document[2],
        "docs": len(gold), "gold_mentions": n_gold, "predicted_mentions": n_pred,
    }


def corpus_parts(corpora: Sequence[str]) -> dict[str, list[int]]:
    """Positions of each corpus (in order of first appearance), then every position under ``pooled``."""
    parts: dict[str, list[int]] = {}
    for i, corpus in enumerate(corpora):
        parts.setdefault(corpus, []).append(i)
    parts[POOLED] = list(range(len(corpora)))
    return parts


def per_corpus(corpora: Sequence[str], items: Sequence, score: Callable[..., dict], *more: Sequence) -> dict[str, dict]:
    """``score`` of each corpus's items apart and of all pooled: {corpus: score(items_part, *more_parts)}.
    ``items`` and every sequence in ``more`` are aligned with ``corpora``."""
    for sequence in (items, *more):
        if len(sequence) != len(corpora):
            raise ValueError(f"{len(sequence)} items for {len(corpora)} corpus labels")
    return {
        corpus: score([items[i] for i in positions], *[[m[i] for i in positions] for m in more])
        for corpus, positions in corpus_parts(corpora).items()
    }


def accuracy(ranked: Sequence[Sequence[str]], targets: Sequence[str]) -> dict[str, float]:
    """acc@1 and acc@5 of ranked concept lists against their targets."""
    if len(ranked) != len(targets):
        raise ValueError(f"{len(ranked)} rankings for {len(targets)} targets")
    top1 = sum(bool(r) and r[0] == t for r, t in zip(ranked, targets))
    top5 = sum(t in r[:5] for r, t in zip(ranked, targets))
    n = len(targets)
    return {"acc@1": top1 / n if n else 0.0, "acc@5": top5 / n if n else 0.0, "n": n}


@dataclass(frozen=True)
class Choice:
    """The setting chosen on ``chosen_on`` and its figures on ``reported_on``."""

    reported_on: str
    chosen_on: str
    setting: Hashable
    figures: dict


def choose(results: dict[Hashable, dict[str, dict]], on: str, prefer: Hashable | None = None) -> Hashable:
    """The setting with the best (acc@1, acc@5) on query set ``on``; ties go to ``prefer`` (the current
    default), then to the first setting listed."""
    order = {setting: i for i, setting in enumerate(results)}

    def key(setting):
        figures = results[setting][on]
        return (figures["acc@1"], figures["acc@5"], setting == prefer, -order[setting])

    return max(results, key=key)


def leave_one_out(results: dict[Hashable, dict[str, dict]], corpora: Sequence[str], prefer: Hashable | None = None) -> list[Choice]:
    """For each of two corpora, the figures of the setting chosen on the other one.
    ``results``: {setting: {corpus: accuracy dict}}."""
    if len(corpora) != 2:
        raise ValueError(f"leave-one-corpus-out takes two corpora, not {len(corpora)}")
    choices = []
    for held, other in (corpora, corpora[::-1]):
        setting = choose(results, other, prefer)
        choices.append(Choice(held, other, setting, results[setting][held]))
    return choices


def beats_everywhere(results: dict[Hashable, dict[str, dict]], setting: Hashable, baseline: Hashable, query_sets: Sequence[str]) -> bool:
    """True when ``setting`` has a higher acc@1 than ``baseline`` on every one of ``query_sets``."""
    return all(results[setting][q]["acc@1"] > results[baseline][q]["acc@1"] for q in query_sets)
