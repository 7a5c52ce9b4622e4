"""Assertion benchmark: the NegEx/ConText test kit and BioScope's clinical (radiology) sentences, development halves.

NegEx kit: each row's gold condition is the only entity of its sentence (a doc
with one sentence). Reports negation P/R/F1 (negated = positive class; the kit
marks resolved problems Negated, so clinlink's absent or resolved counts as
negated), historical and hypothetical ("Not particular" temporality, the
ConText kit's convention) P/R/F1 and sentences/s of the assertion component
alone, for clinlink_context and, in the same run, negspacy (termset
en_clinical) and medspaCy ConText (default rules; run in its own virtualenv
because it pins spaCy < 3.8).

BioScope clinical: the mentions the ``radiology`` pipeline finds in each
sentence; gold negated = the mention lies inside a negation scope, gold
uncertain = inside a speculation scope and no negation scope (the corpus's
SOURCE.txt). clinlink: negated = absent (BioScope does not count resolution as
negation), uncertain = possible, hypothetical or conditional. negspacy runs on
the same mentions (negation only).

    python benchmarks/assertion.py [--medspacy-python /work/venv-medspacy/bin/python] [--errors]

Writes benchmarks/results/assertion.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "negex" / "negex_dev.tsv"
BIOSCOPE = ROOT.parent / "shared" / "data" / "assertion" / "bioscope_clinical" / "bioscope_clinical_dev.jsonl"
UNCERTAIN = frozenset({"possible", "hypothetical", "conditional"})
# BioScope's "no" scope in "No change in the hydronephrosis" covers the (present, stable) finding
NO_CHANGE = re.compile(r"no\s+(?:(?:significant|interval|definite|appreciable)\s+)*change", re.IGNORECASE)
RESULTS = ROOT / "benchmarks" / "results" / "assertion.json"
DEFAULT_MEDSPACY_PYTHON = Path("/work/venv-medspacy/bin/python")
REPEATS = 3


def load_rows(path: Path) -> tuple[list[dict], int]:
    """Rows with the condition aligned in the sentence, and the count of rows that could not be aligned."""
    rows, unaligned = [], 0
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        next(reader)
        for fields in reader:
            if len(fields) < 6:
                unaligned += 1
                continue
            line, condition, sentence, negation, temporality, experiencer = fields[:6]
            span = align(condition, sentence)
            if span is None:
                unaligned += 1
                continue
            rows.append(
                {
                    "line": line,
                    "text": sentence,
                    "start": span[0],
                    "end": span[1],
                    "negated": negation.strip() == "Negated",
                    "historical": temporality.strip() == "Historical",
                    "hypothetical": temporality.strip() == "Not particular",
                    "other": experiencer.strip() != "Patient",
                }
            )
    return rows, unaligned


def align(condition: str, sentence: str) -> tuple[int, int] | None:
    """Character span of ``condition`` in ``sentence`` (case- and whitespace-insensitive; the kit upper-cases it)."""
    words = condition.split()
    if not words:
        return None
    upper = r"\s+".join(re.escape(word.upper()) for word in words)
    match = re.search(upper, sentence) or re.search(r"\s+".join(re.escape(word) for word in words), sentence, re.IGNORECASE)
    return (match.start(), match.end()) if match else None


def prf(pred: list[bool], gold: list[bool]) -> dict[str, float]:
    tp = sum(p and g for p, g in zip(pred, gold))
    fp = sum(p and not g for p, g in zip(pred, gold))
    fn = sum(g and not p for p, g in zip(pred, gold))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"p": round(precision, 4), "r": round(recall, 4), "f1": round(f1, 4), "tp": tp, "fp": fp, "fn": fn}


def make_docs(nlp, rows: list[dict]) -> list:
    """One doc per row: the whole text is one sentence, the gold condition its only entity."""
    docs = []
    for row in rows:
        doc = nlp.make_doc(row["text"])
        for token in doc:
            token.is_sent_start = token.i == 0
        span = doc.char_span(row["start"], row["end"], label="CONDITION", alignment_mode="expand")
        doc.ents = [span] if span is not None else []
        docs.append(doc)
    return docs


def timed(component, docs: list) -> float:
    """Best-of-REPEATS seconds for the component over all docs."""
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        for doc in docs:
            component(doc)
        best = min(best, time.perf_counter() - started)
    return best


def predictions(docs: list, read) -> list[dict]:
    out = []
    for doc in docs:
        out.append(read(doc.ents[0]) if doc.ents else {"negated": False, "historical": False, "hypothetical": False, "other": False})
    return out


def run_clinlink(rows: list[dict]) -> dict:
    import spacy

    import clinlink.assertion.component  # noqa: F401  (registers the factory)
    from clinlink.assertion.context import ContextMatcher

    nlp = spacy.blank("en")
    component = nlp.add_pipe("clinlink_context")
    docs = make_docs(nlp, rows)
    seconds = timed(component, docs)
    preds = predictions(
        docs,
        lambda ent: {
            "negated": ent._.assertion == "absent" or ent._.resolved,
            "historical": ent._.historical,
            "hypothetical": ent._.assertion == "hypothetical",
            "other": ent._.assertion == "family",
            "status": ent._.assertion,
            "cues": ent._.assertion_cues,
        },
    )
    matcher = ContextMatcher()
    inputs = [(row["text"], [(row["start"], row["end"])], [(0, len(row["text"]))]) for row in rows]
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        for text, targets, sentences in inputs:
            matcher.assert_targets(text, targets, sentences)
        best = min(best, time.perf_counter() - started)
    return {"name": "clinlink_context", "preds": preds, "seconds": seconds, "core_seconds": best}


def run_negspacy(rows: list[dict]) -> dict:
    import negspacy
    import spacy
    from negspacy.negation import Negex  # noqa: F401  (registers the factory)
    from negspacy.termsets import termset

    nlp = spacy.blank("en")
    component = nlp.add_pipe("negex", config={"neg_termset": termset("en_clinical").get_patterns()})
    docs = make_docs(nlp, rows)
    seconds = timed(component, docs)
    version = getattr(negspacy, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("negspacy")
    preds = predictions(docs, lambda ent: {"negated": bool(ent._.negex), "historical": False, "hypothetical": False, "other": False})
    return {"name": f"negspacy {version} en_clinical", "preds": preds, "seconds": seconds, "measures": ["negation"]}


def medspacy_worker() -> None:
    """Runs inside the medspaCy virtualenv: rows as JSON on stdin, predictions and time on stdout."""
    import medspacy  # noqa: F401  (registers medspacy_context)
    import spacy

    rows = json.load(sys.stdin)
    nlp = spacy.blank("en")
    component = nlp.add_pipe("medspacy_context")
    docs = make_docs(nlp, rows)
    seconds = timed(component, docs)
    preds = predictions(
        docs,
        lambda ent: {
            "negated": bool(ent._.is_negated),
            "historical": bool(ent._.is_historical),
            "hypothetical": bool(ent._.is_hypothetical),
            "other": bool(ent._.is_family),
        },
    )
    json.dump({"name": f"medspaCy {medspacy.__version__} ConText default rules", "preds": preds, "seconds": seconds}, sys.stdout)


def run_medspacy(rows: list[dict], python: Path) -> dict:
    completed = subprocess.run(
        [str(python), str(Path(__file__).resolve()), "--medspacy-worker"],
        input=json.dumps(rows),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"medspaCy worker failed: {completed.stderr.strip()[-2000:]}")
    return json.loads(completed.stdout)


def score(system: dict, rows: list[dict]) -> dict:
    preds = system["preds"]
    measures = system.get("measures", ["negation", "historical", "hypothetical"])
    gold_key = {"negation": "negated", "historical": "historical", "hypothetical": "hypothetical"}
    result = {"system": system["name"], "sentences_per_s": round(len(rows) / system["seconds"])}
    for measure in measures:
        key = gold_key[measure]
        result[measure] = prf([p[key] for p in preds], [row[key] for row in rows])
    if "core_seconds" in system:
        result["core_sentences_per_s"] = round(len(rows) / system["core_seconds"])
    return result


def print_errors(rows: list[dict], preds: list[dict]) -> None:
    for key in ("negated", "historical", "hypothetical"):
        for row, pred in zip(rows, preds):
            if row[key] != pred[key]:
                target = row["text"][row["start"]:row["end"]]
                print(f"[{key} gold={row[key]} pred={pred['status']}/{pred['historical']}] {target!r} :: {row['text'][:300]}  cues={pred['cues']}")


# -- BioScope clinical ---------------------------------------------------------------
def load_bioscope(path: Path) -> list[dict]:
    """Sentences with their negation and speculation scopes as (start, end) character spans."""
    sentences = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            kinds = {cue["id"]: cue["type"] for cue in record["cues"]}
            scopes: dict[str, list[tuple[int, int]]] = {"negation": [], "speculation": [], "no_change": []}
            for scope in record["scopes"]:
                kind = kinds.get(scope["id"])
                if kind in ("negation", "speculation"):
                    scopes[kind].append((scope["start"], scope["end"]))
                if kind == "negation" and NO_CHANGE.match(scope["text"]):
                    scopes["no_change"].append((scope["start"], scope["end"]))
            sentences.append({"id": f"{record['doc_id']}/{record['sent_id']}", "text": record["text"], **scopes})
    return sentences


def inside(start: int, end: int, scopes: list[tuple[int, int]]) -> bool:
    return any(low <= start and end <= high for low, high in scopes)


def bioscope_mentions(sentences: list[dict]) -> tuple[list[dict], float]:
    """The radiology pipeline's mentions with gold labels and clinlink's assertions, and the pipeline's seconds."""
    import clinlink

    nlp = clinlink.load("radiology")
    nlp("warm up: no pleural effusion.")
    mentions = []
    started = time.perf_counter()
    docs = list(nlp.pipe([s["text"] for s in sentences], batch_size=256))
    seconds = time.perf_counter() - started
    for sentence, doc in zip(sentences, docs):
        for ent in doc.ents:
            negated = inside(ent.start_char, ent.end_char, sentence["negation"])
            mentions.append(
                {
                    "sentence": sentence["id"],
                    "text": sentence["text"],
                    "start": ent.start_char,
                    "end": ent.end_char,
                    "negated": negated,
                    "uncertain": not negated and inside(ent.start_char, ent.end_char, sentence["speculation"]),
                    "no_change": inside(ent.start_char, ent.end_char, sentence["no_change"]),
                    "status": ent._.assertion,
                    "resolved": bool(ent._.resolved),
                    "cues": ent._.assertion_cues,
                }
            )
    return mentions, seconds


def bioscope_docs(nlp, mentions: list[dict]) -> list:
    """One doc per sentence holding mentions (one sentence), the mentions as its entities."""
    by_sentence: dict[str, list[dict]] = {}
    for mention in mentions:
        by_sentence.setdefault(mention["sentence"], []).append(mention)
    docs = []
    for group in by_sentence.values():
        doc = nlp.make_doc(group[0]["text"])
        for token in doc:
            token.is_sent_start = token.i == 0
        spans = [doc.char_span(m["start"], m["end"], label="FINDING", alignment_mode="expand") for m in group]
        doc.ents = [span for span in spans if span is not None]
        docs.append(doc)
    return docs


def run_bioscope(path: Path, errors: bool) -> dict:
    """Negation and speculation scores of clinlink and negspacy on the radiology pipeline's BioScope mentions."""
    import spacy
    from negspacy.negation import Negex  # noqa: F401  (registers the factory)
    from negspacy.termsets import termset

    import clinlink.assertion.component  # noqa: F401  (registers the factory)

    sentences = load_bioscope(path)
    mentions, pipeline_seconds = bioscope_mentions(sentences)
    nlp = spacy.blank("en")
    context = nlp.add_pipe("clinlink_context")
    negex = nlp.add_pipe("negex", config={"neg_termset": termset("en_clinical").get_patterns()})
    context_docs = bioscope_docs(nlp, mentions)
    context_seconds = timed(context, context_docs)
    negex_docs = bioscope_docs(nlp, mentions)
    negex_seconds = timed(negex, negex_docs)
    negex_flags = [bool(ent._.negex) for doc in negex_docs for ent in doc.ents]
    if len(negex_flags) != len(mentions):
        raise RuntimeError("BioScope: a mention could not be placed on spaCy tokens")
    gold_negated = [m["negated"] for m in mentions]
    gold_uncertain = [m["uncertain"] for m in mentions]
    ours_negated = [m["status"] == "absent" for m in mentions]
    ours_uncertain = [m["status"] in UNCERTAIN for m in mentions]
    kept = [not m["no_change"] for m in mentions]

    def without_no_change(values: list[bool]) -> list[bool]:
        return [value for value, keep in zip(values, kept) if keep]

    if errors:
        for mention, negated, uncertain in zip(mentions, ours_negated, ours_uncertain):
            if negated != mention["negated"] or uncertain != mention["uncertain"]:
                target = mention["text"][mention["start"]:mention["end"]]
                print(f"[bioscope gold neg={mention['negated']} unc={mention['uncertain']} pred={mention['status']}] {target!r} :: {mention['text']}  cues={mention['cues']}")
    return {
        "data": str(path),
        "sentences": len(sentences),
        "mentions": len(mentions),
        "gold_negated": sum(gold_negated),
        "gold_uncertain": sum(gold_uncertain),
        "no_change_mentions": len(mentions) - sum(kept),
        "pipeline_sentences_per_s": round(len(sentences) / pipeline_seconds),
        "results": [
            {
                "system": "clinlink_context",
                "negation": prf(ours_negated, gold_negated),
                "speculation": prf(ours_uncertain, gold_uncertain),
                "negation_without_no_change": prf(without_no_change(ours_negated), without_no_change(gold_negated)),
                "sentences_per_s": round(len(context_docs) / context_seconds),
            },
            {
                "system": "negspacy en_clinical",
                "negation": prf(negex_flags, gold_negated),
                "negation_without_no_change": prf(without_no_change(negex_flags), without_no_change(gold_negated)),
                "sentences_per_s": round(len(negex_docs) / negex_seconds),
            },
        ],
    }


def print_bioscope(result: dict) -> None:
    print(
        f"\nBioScope clinical ({result['sentences']:,} sentences; {result['mentions']:,} mentions found by the radiology pipeline, "
        f"{result['gold_negated']} in a negation scope, {result['gold_uncertain']} in a speculation scope only)"
    )
    header = "| system | neg P | neg R | neg F1 | spec P | spec R | spec F1 | sentences/s |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in result["results"]:
        cells = [f"{row[m][k]:.3f}" if m in row else "–" for m in ("negation", "speculation") for k in ("p", "r", "f1")]
        print(f"| {row['system']} | " + " | ".join(cells) + f" | {row['sentences_per_s']:,} |")
    print(f"(sentences/s: the assertion component alone, over the sentences holding mentions; the whole radiology pipeline ran {result['pipeline_sentences_per_s']:,} sentences/s)")
    print(
        f"negation without the {result['no_change_mentions']} mentions inside a 'no (significant) change' scope (the finding is there, unchanged): "
        + ", ".join(f"{row['system']} F1 {row['negation_without_no_change']['f1']:.3f} (P {row['negation_without_no_change']['p']:.3f}, R {row['negation_without_no_change']['r']:.3f})" for row in result["results"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the NegEx kit TSV")
    parser.add_argument("--bioscope", type=Path, default=BIOSCOPE, help="BioScope clinical JSONL")
    parser.add_argument("--medspacy-python", type=Path, default=None, help=f"python of a medspaCy virtualenv (default {DEFAULT_MEDSPACY_PYTHON} when present)")
    parser.add_argument("--errors", action="store_true", help="print clinlink's misclassified rows")
    parser.add_argument("--medspacy-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.medspacy_worker:
        medspacy_worker()
        return
    bioscope = None
    if args.bioscope.exists():
        bioscope = run_bioscope(args.bioscope, args.errors)
        print_bioscope(bioscope)
    else:
        print(f"BioScope skipped: {args.bioscope} not found (the shared evaluation data sits beside the repository as ../shared)")
    if not args.data.exists():
        print(f"NegEx kit skipped: {args.data} not found (the shared evaluation data sits beside the repository as ../shared)")
        return
    rows, unaligned = load_rows(args.data)
    print(f"{args.data}: {len(rows)} rows aligned, {unaligned} skipped (condition not found in its sentence)")

    systems = [run_clinlink(rows), run_negspacy(rows)]
    medspacy_python = args.medspacy_python or (DEFAULT_MEDSPACY_PYTHON if DEFAULT_MEDSPACY_PYTHON.exists() else None)
    skipped = None
    if medspacy_python is None:
        skipped = f"medspaCy baseline skipped: no --medspacy-python given and {DEFAULT_MEDSPACY_PYTHON} does not exist (python3 -m venv /work/venv-medspacy && /work/venv-medspacy/bin/pip install medspacy)"
    elif not medspacy_python.exists():
        skipped = f"medspaCy baseline skipped: {medspacy_python} does not exist"
    else:
        try:
            systems.append(run_medspacy(rows, medspacy_python))
        except RuntimeError as error:
            skipped = f"medspaCy baseline skipped: {error}"
    if args.errors:
        print_errors(rows, systems[0]["preds"])
    results = [score(system, rows) for system in systems]

    def cell(result: dict, measure: str, key: str) -> str:
        return f"{result[measure][key]:.3f}" if measure in result else "–"

    header = "| system | neg P | neg R | neg F1 | hist P | hist R | hist F1 | hyp P | hyp R | hyp F1 | sentences/s |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for result in results:
        cells = [cell(result, m, k) for m in ("negation", "historical", "hypothetical") for k in ("p", "r", "f1")]
        print(f"| {result['system']} | " + " | ".join(cells) + f" | {result['sentences_per_s']:,} |")
    ours = results[0]
    print(f"clinlink core alone (no spaCy): {ours['core_sentences_per_s']:,} sentences/s")
    ratios = {}
    for baseline in results[1:]:
        ratio = {"sentences_per_s": round(ours["sentences_per_s"] / baseline["sentences_per_s"], 3)}
        for measure in ("negation", "historical", "hypothetical"):
            if measure in baseline and baseline[measure]["f1"]:
                ratio[f"{measure}_f1"] = round(ours[measure]["f1"] / baseline[measure]["f1"], 3)
        ratios[baseline["system"]] = ratio
        print(f"clinlink / {baseline['system']}: " + ", ".join(f"{k} x{v}" for k, v in ratio.items()))
    if skipped:
        print(skipped)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "data": str(args.data), "rows": len(rows), "unaligned": unaligned, "results": results,
        "ratios_vs_baselines": ratios, "skipped": skipped, "bioscope": bioscope,
    }
    RESULTS.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
