"""Query speed of ReportIndex over 100,000 synthetic concept sets (the issue's <= 50 ms target).

Concept sets draw HPO concepts of the chest (respiratory, cardiovascular, thoracic
skeleton) with Zipf-like frequencies, 2-14 per report, about 55 % absent, 35 %
present and 10 % possible, like radiology reports. The baseline in the same run is
the reference pairwise ``tversky()`` over a 2,000-report slice, scaled to the full index.

    python benchmarks/similarity_speed.py [--reports 100000] [--queries 300]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from clinlink.kb import load_kb
from clinlink.similarity import ConceptSet, TverskyParams, tversky
from clinlink.similarity.index import ReportIndex

ROOTS = ("HP:0002086", "HP:0001626", "HP:0000765")  # respiratory, cardiovascular, thorax


def synthetic_sets(concepts: list[str], count: int, rnd: random.Random) -> list[ConceptSet]:
    ranks = np.arange(1, len(concepts) + 1)
    probability = 1.0 / ranks
    probability /= probability.sum()
    rng = np.random.default_rng(rnd.randrange(1 << 30))
    sets = []
    for _ in range(count):
        size = int(rng.integers(2, 15))
        chosen = rng.choice(len(concepts), size=size, replace=False, p=probability)
        present, absent, possible = [], [], []
        for index in chosen:
            draw = rng.random()
            (absent if draw < 0.55 else present if draw < 0.9 else possible).append(concepts[index])
        sets.append(ConceptSet.of(present, absent, possible))
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--preset", default="default")
    args = parser.parse_args()

    kb = load_kb()
    pool = sorted({d for root in ROOTS for d in kb.descendants(root)} | set(ROOTS))
    rnd = random.Random(7)
    rnd.shuffle(pool)
    concepts = pool[:3000]
    reports = synthetic_sets(concepts, args.reports, rnd)
    queries = synthetic_sets(concepts, args.queries, rnd)
    params = TverskyParams.create(args.preset)

    start = time.perf_counter()
    index = ReportIndex.build(((f"r{i}", s) for i, s in enumerate(reports)), kb=kb, params=params)
    build_s = time.perf_counter() - start

    index.query(queries[0], k=10)  # warm the matcher caches of the query concepts' neighbourhood
    timings = []
    for query in queries:
        start = time.perf_counter()
        index.query(query, k=10)
        timings.append(time.perf_counter() - start)
    timings_ms = np.array(timings) * 1000

    reference_slice = 2000
    start = time.perf_counter()
    for query in queries[:5]:
        for report in reports[:reference_slice]:
            tversky(query, report, kb, params=params)
    reference_ms = (time.perf_counter() - start) / 5 * (args.reports / reference_slice) * 1000

    result = {
        "reports": args.reports,
        "queries": args.queries,
        "preset": args.preset,
        "build_s": round(build_s, 2),
        "query_ms_mean": round(float(timings_ms.mean()), 2),
        "query_ms_p50": round(float(np.percentile(timings_ms, 50)), 2),
        "query_ms_p95": round(float(np.percentile(timings_ms, 95)), 2),
        "queries_per_s": round(1000 / float(timings_ms.mean()), 1),
        "reference_pairwise_ms_per_query": round(reference_ms, 1),
        "speedup_vs_pairwise": round(reference_ms / float(timings_ms.mean()), 1),
    }
    print(f"{'reports':>10} {'build s':>8} {'mean ms':>8} {'p50 ms':>7} {'p95 ms':>7} {'q/s':>7} {'pairwise ms':>12} {'ratio':>7}")
    print(
        f"{args.reports:>10,} {build_s:>8.1f} {result['query_ms_mean']:>8.2f} {result['query_ms_p50']:>7.2f} "
        f"{result['query_ms_p95']:>7.2f} {result['queries_per_s']:>7.1f} {reference_ms:>12.0f} {result['speedup_vs_pairwise']:>6.0f}x"
    )
    out = Path(__file__).parent / "results" / "similarity_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
