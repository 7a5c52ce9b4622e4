"""HPO concept recognition end to end on the shared HPO corpora, each corpus apart (GSC+ dev, GeneReviews) and pooled.

Compares the clinlink ``phenotype`` pipeline with and without its linker against a plain spaCy
PhraseMatcher (attr LOWER, longest non-overlapping matches) over the same HPO names, all terms and the
Phenotypic abnormality subtree (HP:0000118), in the same run. Scores strict mentions (span and concept),
overlapping mentions and document concept sets (P/R/F1, micro over documents). Prints one table per
measure with a column per corpus and writes benchmarks/results/hpo_ner.json.

    python benchmarks/hpo_ner.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import spacy
from spacy.matcher import PhraseMatcher
from spacy.util import filter_spans

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hpo_data import GoldDoc, read_hpo_corpora  # noqa: E402
from per_corpus import POOLED, per_corpus, score_mentions  # noqa: E402

import clinlink  # noqa: E402
from clinlink.kb import load_kb  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
MEASURES = (("strict", "strict mention"), ("doc", "document"), ("overlap", "overlapping mention"))


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
        matches = matcher(doc)
        spans = filter_spans([doc[s:e] for _, s, e in matches])
        labels = {(s, e): nlp.vocab.strings[m] for m, s, e in matches}
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
    gold = [[(m.start, m.end, m.concept_id) for m in doc.mentions] for doc in docs]

    def score(gold_part, predicted_part):
        return score_mentions(gold_part, predicted_part, lambda c: kb.resolve(c) or c)

    corpora = per_corpus([doc.corpus for doc in docs], gold, score, predictions)
    return {"system": name, "docs_per_s": round(len(docs) / seconds, 1), "corpora": corpora}


def print_tables(rows: list[dict]) -> None:
    corpora = list(rows[0]["corpora"])
    for measure, title in MEASURES:
        print(f"\n{title} P / R / F1")
        print("| system | " + " | ".join(corpora) + " |")
        print("|---|" + "---|" * len(corpora))
        for row in rows:
            cells = []
            for corpus in corpora:
                figures = row["corpora"][corpus]
                cells.append(" / ".join(f"{figures[f'{measure}_{part}']:.3f}" for part in ("p", "r", "f1")))
            print(f"| {row['system']} | " + " | ".join(cells) + " |")
    print("\n" + ", ".join(
        f"{corpus}: {rows[0]['corpora'][corpus]['docs']} docs, {rows[0]['corpora'][corpus]['gold_mentions']} mentions"
        for corpus in corpora
    ))
    print("docs/s: " + ", ".join(f"{row['system']} {row['docs_per_s']}" for row in rows))


def main() -> None:
    docs = read_hpo_corpora()
    kb = load_kb()
    with_linker = clinlink.load("phenotype")
    without_linker = clinlink.load("phenotype", exclude=("linker",))
    rows = [
        run_system("clinlink phenotype (with the linker)", clinlink_predictor(with_linker), docs, kb),
        run_system("clinlink phenotype, no linker", clinlink_predictor(without_linker), docs, kb),
        run_system("PhraseMatcher, all HPO terms", phrase_matcher_baseline(kb, None), docs, kb),
        run_system("PhraseMatcher, HP:0000118 subtree", phrase_matcher_baseline(kb, "HP:0000118"), docs, kb),
    ]
    print_tables(rows)
    ratio = rows[0]["corpora"][POOLED]["doc_f1"] / rows[3]["corpora"][POOLED]["doc_f1"]
    print(f"pooled document F1 ratio clinlink (with the linker) / PhraseMatcher (subtree): {ratio:.3f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hpo_ner.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
