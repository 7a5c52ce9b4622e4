"""Two-fold cross-validation of the mined coding lexicon on CodiEsp English train: how a rule of the miner, or a
hand-written Index entry, does on notes the lexicon was not mined from.

The train split's documents are cut in two halves (sorted ids, alternately). For each half, a lexicon is mined
from it (:func:`clinlink.training.coding_lexicon.mine_from_notes`, the settings of the packaged one) and the
``clinical`` pipeline, reading the packaged Index entries and that lexicon, codes the other half. The same run
scores the pipeline with the Index entries alone (no mined lexicon) as the baseline. Scoring is that of
``benchmarks/coding.py`` (micro P/R/F1 at the full code, edition-aligned, and the category; MAP). A change is kept
where both halves (and then dev, with ``benchmarks/coding.py``) do not fall. Prints a table and writes
benchmarks/results/coding-cv.json.

    python benchmarks/coding_cv.py [--index icd10cm-index] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from coding import RESULTS, edition_aligned, read_split, score

import clinlink
from clinlink.kb import load_kb
from clinlink.training.coding_lexicon import mine_from_notes


def halves(ids: list[str]) -> tuple[list[str], list[str]]:
    """The ids cut in two, sorted and taken alternately (deterministic, each half spans the whole split)."""
    ordered = sorted(ids)
    return ordered[0::2], ordered[1::2]


def predict(texts: list[str], lexicons: list[str]) -> list[list[str]]:
    nlp = clinlink.load("clinical", ner={"coding_lexicon": lexicons}, linker={"coding_lexicon": lexicons})
    return [[entry["code"] for entry in (doc._.codes or {}).get("ICD10CM", [])] for doc in nlp.pipe(texts, batch_size=32)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", default="icd10cm-index", help="hand-written lexicon read first (name or TSV path)")
    parser.add_argument("--limit", type=int, default=None, help="first N train documents only")
    args = parser.parse_args()
    ids, texts, golds = read_split("train", args.limit)
    by_id = {doc_id: (text, gold) for doc_id, text, gold in zip(ids, texts, golds)}
    kb = load_kb()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for number, (mined_on, scored_on) in enumerate((halves(ids), halves(ids)[::-1])):
            started = time.perf_counter()
            lexicon = mine_from_notes(kb, {i: by_id[i][0] for i in mined_on}, {i: by_id[i][1] for i in mined_on})
            path = Path(folder) / f"half-{number}.tsv"
            lexicon.save(path)
            gold = [by_id[i][1] for i in scored_on]
            for system, lexicons in (("Index entries + lexicon mined on the other half", [args.index, str(path)]),
                                     ("Index entries alone", [args.index])):
                ranked = [edition_aligned(kb, codes, g) for codes, g in zip(predict([by_id[i][0] for i in scored_on], lexicons), gold)]
                rows.append({"scored_half": 2 - number, "system": system, "documents": len(scored_on), **score(ranked, gold)})
            rows[-2]["mined_entries"] = len(lexicon.entries)
            rows[-2]["seconds"] = round(time.perf_counter() - started, 1)
    print(f"CodiEsp English train, two-fold: {len(ids)} documents\n")
    print("| scored half | system | P | R | F1 | category F1 | MAP |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['scored_half']} | {row['system']} | {row['p']:.4f} | {row['r']:.4f} | {row['f1']:.4f} | {row['cat_f1']:.4f} | {row['map']:.4f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "coding-cv.json"
    out.write_text(json.dumps({"documents": len(ids), "index": args.index, "rows": rows}, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    sys.exit(main())
