"""Document-level ICD-10-CM coding of clinical case reports (CodiEsp English, dev split by default).

Compares clinlink's ``clinical`` pipeline (the ranked ``doc._.codes["ICD10CM"]`` list) with a spaCy
PhraseMatcher over the ICD-10-CM titles and synonyms of the same KB (longest non-overlapping matches), in the
same run. Scores micro P/R/F1 at the full code and at the 3-character category, MAP over each document's ranked
code list (the CodiEsp track's ranking measure; the PhraseMatcher's list is in text order), and sorts clinlink's
errors by kind:

- missed mention: a gold code with no predicted code in its category;
- too general / too specific: a gold code whose category holds a predicted ancestor / descendant of it;
- wrong code: a gold code whose category holds only other predicted codes (siblings);
- not coded by the gold: a predicted code with no gold code in its category.

Gold codes are read without the placeholder X's that CodiEsp writes in place of a dropped 7th character
("S22.31X" is S22.31, "W19.XXX" is W19; 43 dev gold codes are so written). Full codes are compared edition-aligned (a predicted code that is the current edition's default child of a gold
code counts as it: gold R51 Headache, 2018, is R51.9 now); the column "codes as written" compares the strings.
Rules are chosen on ``--split train``; ``--split dev`` (default) measures. Prints a table and writes
benchmarks/results/coding.json (``coding-train.json`` for the train split).

    python benchmarks/coding.py [--split dev|train] [--limit N] [--errors 20] [--code-threshold 0.9]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import spacy
from spacy.matcher import PhraseMatcher
from spacy.util import filter_spans

import clinlink
from clinlink.kb import load_kb
from clinlink.linking.choice import specific_icd

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "coding" / "codiesp_en"
RESULTS = Path(__file__).resolve().parent / "results"
PREFIX = "ICD10CM:"


def read_split(split: str, limit: int | None = None) -> tuple[list[str], list[str], list[set[str]]]:
    """Document ids, texts and gold code sets of a CodiEsp split."""
    if not DATA.is_dir():
        raise SystemExit(f"skipped: {DATA} not found (the shared evaluation data sits beside the repo as ../shared)")
    gold: dict[str, set[str]] = defaultdict(set)
    for line in (DATA / f"{split}_diagnosis_codes.tsv").read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            doc_id, code = line.split("\t")[:2]
            gold[doc_id].add(without_placeholders(code))
    paths = sorted((DATA / split).glob("*.txt"))[:limit]
    return [p.stem for p in paths], [p.read_text(encoding="utf-8") for p in paths], [gold.get(p.stem, set()) for p in paths]


def without_placeholders(code: str) -> str:
    """A gold code without the trailing placeholder X's CodiEsp keeps where it drops the 7th character ("S22.31X",
    "W19.XXX"): clinlink, like the tabular's codes below the 7th character, writes S22.31 and W19."""
    return re.sub(r"\.?X+$", "", code.strip().upper()) if "." in code else code.strip().upper()


def category(code: str) -> str:
    return code[:3]


def prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"p": p, "r": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def average_precision(ranked: list[str], gold: set[str]) -> float:
    if not gold:
        return 0.0
    hits, total = 0, 0.0
    for position, code in enumerate(ranked, start=1):
        if code in gold:
            hits += 1
            total += hits / position
    return total / len(gold)


def edition_aligned(kb, ranked: list[str], gold: set[str]) -> list[str]:
    """The ranked codes with each one that is the current edition's default child, or a child, of a gold code
    written as the gold code: CodiEsp is coded in the 2018 edition, where R51 Headache, R05 Cough and R74.0
    (elevated transaminases or LDH) were codes that later editions split (R51.9, R05.9, R74.01 / R74.02), and
    :func:`clinlink.linking.choice.specific_icd` writes the current one."""
    aligned = []
    for code in ranked:
        parents = [g for g in gold if code.startswith(g) and code != g and kb.find(PREFIX + g) is not None]
        direct = set(kb.parents(PREFIX + code)) if kb.find(PREFIX + code) is not None else set()
        same = next((g for g in parents if PREFIX + g in direct or specific_icd(kb, PREFIX + g) == PREFIX + code), None)
        aligned.append(same or code)
    return list(dict.fromkeys(aligned))


def score(predictions: list[list[str]], golds: list[set[str]]) -> dict[str, float]:
    """Micro P/R/F1 at the full code and the category, and MAP over the ranked lists."""
    full = [0, 0, 0]
    cat = [0, 0, 0]
    for ranked, gold in zip(predictions, golds):
        predicted = set(ranked)
        full[0] += len(predicted & gold)
        full[1] += len(predicted)
        full[2] += len(gold)
        pred_cats, gold_cats = {category(c) for c in predicted}, {category(c) for c in gold}
        cat[0] += len(pred_cats & gold_cats)
        cat[1] += len(pred_cats)
        cat[2] += len(gold_cats)
    code_scores, cat_scores = prf(*full), prf(*cat)
    average = sum(average_precision(r, g) for r, g in zip(predictions, golds)) / max(len(golds), 1)
    return {
        "p": code_scores["p"], "r": code_scores["r"], "f1": code_scores["f1"],
        "cat_p": cat_scores["p"], "cat_r": cat_scores["r"], "cat_f1": cat_scores["f1"], "map": average,
    }


def error_kinds(kb, predictions: list[list[str]], golds: list[set[str]]) -> tuple[Counter, dict[str, Counter]]:
    """Counts of each error kind (see the module doc) and, per kind, the most frequent (gold, predicted) codes."""
    kinds: Counter = Counter()
    examples: dict[str, Counter] = defaultdict(Counter)

    def lineage(code: str, other: str) -> str:
        concept, other_concept = kb.find(PREFIX + code), kb.find(PREFIX + other)
        if concept is None or other_concept is None:
            return "wrong code"
        if other_concept.id in kb.ancestors(concept.id):
            return "too general"
        if other_concept.id in kb.descendants(concept.id):
            return "too specific"
        return "wrong code"

    for ranked, gold in zip(predictions, golds):
        predicted = set(ranked)
        for code in sorted(gold - predicted):
            near = sorted(c for c in predicted - gold if category(c) == category(code))
            kind = "missed mention" if not near else min((lineage(code, c) for c in near), key=KIND_ORDER.index)
            kinds[kind] += 1
            examples[kind][(code, near[0] if near else "")] += 1
        gold_cats = {category(c) for c in gold}
        for code in sorted(predicted - gold):
            if category(code) not in gold_cats:
                kinds["not coded by the gold"] += 1
                examples["not coded by the gold"][("", code)] += 1
    return kinds, examples


KIND_ORDER = ["too general", "too specific", "wrong code", "missed mention", "not coded by the gold"]


def clinlink_predictions(texts: list[str], code_threshold: float | None = None) -> tuple[list[list[str]], float]:
    nlp = clinlink.load("clinical", **({"linker": {"code_threshold": code_threshold}} if code_threshold is not None else {}))
    nlp("warm-up: pt c/o chest pain and fever.")
    started = time.perf_counter()
    ranked = [[entry["code"] for entry in (doc._.codes or {}).get("ICD10CM", [])] for doc in nlp.pipe(texts, batch_size=32)]
    return ranked, time.perf_counter() - started


def phrase_matcher_predictions(kb, texts: list[str]) -> tuple[list[list[str]], float]:
    """Codes of the ICD-10-CM titles and synonyms matched (attr LOWER), longest non-overlapping, in text order."""
    nlp = spacy.blank("en")
    matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
    patterns: dict[str, list[str]] = defaultdict(list)
    for name, concept_id in kb.iter_names(sources=["ICD10CM"]):
        patterns[concept_id].append(name)
    for concept_id, names in patterns.items():
        matcher.add(concept_id.removeprefix(PREFIX), list(nlp.tokenizer.pipe(names)))
    started = time.perf_counter()
    ranked = []
    for doc in nlp.pipe(texts):
        matches = matcher(doc)
        labels = {(s, e): nlp.vocab.strings[m] for m, s, e in matches}
        spans = filter_spans([doc[s:e] for _, s, e in matches])
        ranked.append(list(dict.fromkeys(labels[(span.start, span.end)] for span in spans)))
    return ranked, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=["dev", "train"], default="dev")
    parser.add_argument("--limit", type=int, default=None, help="first N documents only")
    parser.add_argument("--errors", type=int, default=10, help="most frequent examples printed per error kind")
    parser.add_argument("--code-threshold", type=float, default=None, help="the linker's code_threshold (default: its own)")
    args = parser.parse_args()
    ids, texts, golds = read_split(args.split, args.limit)
    kb = load_kb()
    systems = {}
    for name, run in (("PhraseMatcher, ICD-10-CM titles + synonyms", lambda: phrase_matcher_predictions(kb, texts)),
                      ("clinlink clinical, doc._.codes", lambda: clinlink_predictions(texts, args.code_threshold))):
        ranked, seconds = run()
        strict = score(ranked, golds)
        ranked = [edition_aligned(kb, codes, gold) for codes, gold in zip(ranked, golds)]
        systems[name] = {"ranked": ranked, "seconds": seconds, **score(ranked, golds), "f1_exact_edition": strict["f1"]}
    print(f"CodiEsp English {args.split}: {len(texts)} documents, {sum(map(len, golds))} gold codes\n")
    print("| system | P | R | F1 | F1, codes as written | category P | R | F1 | MAP | docs/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, result in systems.items():
        print(
            f"| {name} | {result['p']:.3f} | {result['r']:.3f} | {result['f1']:.3f} | {result['f1_exact_edition']:.3f} | "
            f"{result['cat_p']:.3f} | {result['cat_r']:.3f} | {result['cat_f1']:.3f} | {result['map']:.3f} | "
            f"{len(texts) / result['seconds']:.1f} |"
        )
    ours = systems["clinlink clinical, doc._.codes"]
    kinds, examples = error_kinds(kb, ours["ranked"], golds)
    print("\nclinlink errors by kind:")
    for kind in KIND_ORDER:
        common = ", ".join(f"{g or '-'}->{p or '-'} ({n})" for (g, p), n in examples[kind].most_common(args.errors))
        print(f"  {kind}: {kinds[kind]}   e.g. {common}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("coding.json" if args.split == "dev" else f"coding-{args.split}.json")
    payload = {
        "split": args.split, "documents": len(texts), "gold_codes": sum(map(len, golds)),
        "systems": {name: {k: v for k, v in result.items() if k != "ranked"} for name, result in systems.items()},
        "errors": dict(kinds),
        "error_examples": {kind: [[g, p, n] for (g, p), n in examples[kind].most_common(50)] for kind in KIND_ORDER},
        "predictions": {doc_id: ranked for doc_id, ranked in zip(ids, ours["ranked"])},
    }
    out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    sys.exit(main())
