"""HPO concept recognition end to end on the shared HPO corpora (GSC+ dev + GeneReviews).

Compares the clinlink ``phenotype`` pipeline (dictionary + fuzzy; + linker when present) with
a plain spaCy PhraseMatcher (attr LOWER) over the same HPO names, all terms and the
Phenotypic abnormality subtree, in the same run. Prints a table and each system's document F1 per
corpus (a rule tuned on one corpus shows there), writes benchmarks/results/hpo_ner.json.

    python benchmarks/hpo_ner.py [--no-linker]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import spacy
from spacy.matcher import PhraseMatcher
from spacy.util import filter_spans

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hpo_data import GoldDoc, read_hpo_corpora  # noqa: E402

import clinlink  # noqa: E402
from clinlink.kb import load_kb  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score(docs: list[GoldDoc], predictions: list[list[tuple[int, int, str]]], kb) -> dict[str, float]:
    strict_tp = overlap_tp = n_pred = n_gold = 0
    doc_tp = doc_pred = doc_gold = 0
    for doc, predicted in zip(docs, predictions):
        gold = [(m.start, m.end, kb.resolve(m.concept_id) or m.concept_id) for m in doc.mentions]
        predicted = [(s, e, kb.resolve(c) or c) for s, e, c in predicted]
        n_pred += len(predicted)
        n_gold += len(gold)
        strict_tp += len(set(gold) & set(predicted))
        overlap_tp += sum(
            any(ps < ge and gs < pe and pc == gc for ps, pe, pc in predicted) for gs, ge, gc in gold
        )
        gold_ids, pred_ids = {g[2] for g in gold}, {p[2] for p in predicted}
        doc_tp += len(gold_ids & pred_ids)
        doc_pred += len(pred_ids)
        doc_gold += len(gold_ids)
    strict = prf(strict_tp, n_pred, n_gold)
    overlap_p = prf(overlap_tp, n_pred, n_gold)  # overlap recall over gold, precision over predictions
    document = prf(doc_tp, doc_pred, doc_gold)
    return {
        "strict_p": strict[0], "strict_r": strict[1], "strict_f1": strict[2],
        "overlap_p": overlap_p[0], "overlap_r": overlap_p[1], "overlap_f1": overlap_p[2],
        "doc_p": document[0], "doc_r": document[1], "doc_f1": document[2],
    }


def phrase_matcher_baseline(kb, within: str | None):
    nlp = spacy.blank("en")
    matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
    allowed = (kb.descendants(within) | {within}) if within else None
    patterns: dict[str, list] = {}
    for name, concept_id in kb.iter_names(sources=["HP"]):
        if allowed is None or concept_id in allowed:
            patterns.setdefault(concept_id, []).append(name)
    for concept_id, names in patterns.items():
        matcher.add(concept_id, list(nlp.tokenizer.pipe(names)))

    def predict(text: str) -> list[tuple[int, int, str]]:
        doc = nlp(text)
        spans = filter_spans([doc[s:e] for _, s, e in matcher(doc)])
        labels = {(s, e): nlp.vocab.strings[m] for m, s, e in matcher(doc)}
        return [(span.start_char, span.end_char, labels[(span.start, span.end)]) for span in spans]

    return predict


def clinlink_predictor(nlp):
    def predict(text: str) -> list[tuple[int, int, str]]:
        doc = nlp(text)
        return [(e.start_char, e.end_char, e._.concept_id) for e in doc.ents if e._.concept_id]

    return predict


def run_system(name: str, predict, docs: list[GoldDoc], kb) -> dict:
    started = time.perf_counter()
    predictions = [predict(doc.text) for doc in docs]
    seconds = time.perf_counter() - started
    result = score(docs, predictions, kb)
    result.update(system=name, docs_per_s=len(docs) / seconds)
    for corpus in sorted({doc.corpus for doc in docs}):
        part = [i for i, doc in enumerate(docs) if doc.corpus == corpus]
        result[f"doc_f1 {corpus}"] = score([docs[i] for i in part], [predictions[i] for i in part], kb)["doc_f1"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-linker", action="store_true", help="Drop the linker from the clinlink pipeline.")
    args = parser.parse_args()
    docs = read_hpo_corpora()
    kb = load_kb()
    rows = []
    exclude = ("linker",) if args.no_linker else ()
    nlp = clinlink.load("phenotype", exclude=exclude)
    rows.append(run_system(f"clinlink phenotype ({'+'.join(nlp.pipe_names)})", clinlink_predictor(nlp), docs, kb))
    rows.append(run_system("PhraseMatcher, all HPO terms", phrase_matcher_baseline(kb, None), docs, kb))
    rows.append(run_system("PhraseMatcher, HP:0000118 subtree", phrase_matcher_baseline(kb, "HP:0000118"), docs, kb))
    baseline = rows[2]["doc_f1"]
    print(f"{len(docs)} docs, {sum(len(d.mentions) for d in docs)} gold mentions")
    header = f"{'system':58} {'strict P/R/F1':>20} {'overlap P/R/F1':>20} {'doc P/R/F1':>20} {'docs/s':>8}"
    print(header)
    for row in rows:
        print(
            f"{row['system'][:58]:58} {row['strict_p']:.3f}/{row['strict_r']:.3f}/{row['strict_f1']:.3f}  "
            f"{row['overlap_p']:.3f}/{row['overlap_r']:.3f}/{row['overlap_f1']:.3f}  "
            f"{row['doc_p']:.3f}/{row['doc_r']:.3f}/{row['doc_f1']:.3f} {row['docs_per_s']:8.1f}"
        )
    print(f"document F1 ratio clinlink / PhraseMatcher(subtree): {rows[0]['doc_f1'] / baseline:.3f}")
    for row in rows:
        parts = ", ".join(f"{key.split(' ', 1)[1]} {value:.3f}" for key, value in row.items() if key.startswith("doc_f1 "))
        print(f"document F1 by corpus, {row['system'][:40]}: {parts}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hpo_ner.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
