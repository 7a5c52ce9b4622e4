"""Throughput, memory and cold start of the default pipeline, side by side with a scispaCy baseline.

    python benchmarks/throughput.py [--aci-limit N] [--indiana-limit N] [--processes 1 2] [--repeats 3]

Data (read by relative path, skipped with a message when absent):
  ../shared/data/notes/aci-bench/*.csv (column ``note``; metadata files left out): full clinical notes
  ../shared/data/radiology/indiana_reports.csv (``findings`` + ``impression``): short reports

Every configuration runs in a fresh subprocess (so its memory is its own). clinlink is measured
through its batch runner, the path of ``clinlink annotate``: ``clinlink.batch.local.run_local``
with the notes as in-memory rows, writing JSONL shards to a temporary folder, with 1 process
(one stream through ``nlp.pipe``) and with 2 (a forked pool, one task per partition of notes,
each worker committing its own shards), so the 2/1 ratio compares like with like. notes/s counts
from the end of loading to the last shard committed (output written); load s is the pipeline
build. The baseline runs ``nlp.pipe`` in one process and writes nothing, so the clinlink/baseline
ratio is, if anything, unfavourable to clinlink. Memory: peak RSS summed over the process tree
(sampled every 0.2 s with psutil; counts pages the workers share with the parent in each
process) and peak PSS summed the same way (every 1 s; shared pages split between sharers). Reading a 1 GB
process's PSS takes about 20 ms of the kernel's time, taken from the workers being timed (3-6 % of the 2 cores
with 2 workers), so PSS is read only in one extra, untimed memory round per clinlink configuration.
CPU s: user + system CPU time of the process and its workers while annotating; on a machine
shared with other work the notes/s ratio depends on the load, the CPU time ratio much less
(near 1 means 2 processes do no more work than 1, so they approach 2x on 2 free cores).
When the packaged cross-encoder is present, the default pipeline also runs with its
linker's ``reranker`` switched (on if the pipeline has none, off if it has one), so both are measured.
Each clinlink configuration runs ``--repeats`` times (in rounds over all of them) and the run with the
median notes/s is reported, with every run's figure in the JSON: on this shared machine the same run
varies by 20-30 %. Cold start: a fresh interpreter timing ``import clinlink; clinlink.load(); nlp(first note)``.

Baseline, same run: scispaCy 0.6.2's ``AbbreviationDetector`` and ``CandidateGenerator`` over the
same KB names as clinlink's NER (HPO + ICD-10-CM, DISO). scispaCy's ``create_tfidf_ann_index``
refuses scipy >= 1.11 (it raises "requires scipy<1.11"), so the index is built here the way it
builds it (char-3-gram TF-IDF, ``min_df=10``, nmslib HNSW over sparse cosine) with smaller HNSW
construction settings (M=32, efConstruction=200) to build in minutes, and queried through
scispaCy's own ``CandidateGenerator``. scispaCy detects mentions with a trained NER model, which is
not installed offline, so the baseline proposes every 1-4 token n-gram of a sentence that neither
starts nor ends with a stop word or punctuation, links each with the generator (k=10) and keeps
the longest non-overlapping n-grams whose best alias similarity is >= 0.85.
Writes benchmarks/results/throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data"
ACI_DIR = SHARED / "notes" / "aci-bench"
INDIANA = SHARED / "radiology" / "indiana_reports.csv"
RESULTS = ROOT / "benchmarks" / "results"
INDEX_DIR = RESULTS / "scispacy_index"
BASELINE_THRESHOLD = 0.85
BASELINE_MAX_NGRAM = 4
COLD_STARTS = 5  # fresh interpreters timed; the median is reported (single runs vary by a second here)


# -- data -------------------------------------------------------------------------------------------------------
def aci_notes(limit: int | None) -> list[str]:
    import pandas as pd

    files = sorted(path for path in ACI_DIR.glob("*.csv") if not path.stem.endswith("_metadata"))
    notes = [text for path in files for text in pd.read_csv(path, dtype=str, keep_default_na=False)["note"] if text.strip()]
    return notes[:limit] if limit else notes


def indiana_notes(limit: int | None) -> list[str]:
    from clinlink.io.tables import compose_text

    import pandas as pd

    frame = pd.read_csv(INDIANA, dtype=str, keep_default_na=False)
    notes = [compose_text([f, i], ["findings", "impression"]) for f, i in zip(frame["findings"], frame["impression"])]
    notes = [note for note in notes if note.strip()]
    return notes[:limit] if limit else notes


# -- measurement (in the child process) -------------------------------------------------------------------------
class PeakRss:
    """Samples the memory of this process and its children: ``peak`` sums their RSS (every 0.2 s), which counts
    pages that forked workers share with the parent once per process; ``peak_pss`` sums their PSS (every 1 s:
    reading it costs more), which splits shared pages between the processes sharing them."""

    PSS_EVERY = 5  # samples

    def __init__(self, pss: bool, interval: float = 0.2):
        import psutil

        self.process = psutil.Process()
        self.pss = pss
        self.interval = interval
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        samples = 0
        while not self._stop.is_set():
            processes = [self.process, *self.process.children(recursive=True)]
            self.peak = max(self.peak, self._sum(processes, lambda p: p.memory_info().rss, psutil.Error))
            if self.pss and samples % self.PSS_EVERY == 0:
                self.peak_pss = max(self.peak_pss, self._sum(processes, lambda p: p.memory_full_info().pss, psutil.Error))
            samples += 1
            time.sleep(self.interval)

    @staticmethod
    def _sum(processes, read, errors) -> int:
        total = 0
        for process in processes:
            try:
                total += read(process)
            except errors:
                pass
        return total

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def measure(config: dict) -> dict:
    """One configuration, in a fresh process: load, then annotate every note (see the module docstring)."""
    texts = aci_notes(config["limit"]) if config["dataset"] == "aci-bench" else indiana_notes(config["limit"])
    with PeakRss(pss=config.get("memory_round", False)) as rss:
        if config["system"] == "clinlink":
            result = measure_batch(config, texts)
        else:
            result = measure_pipe(baseline_pipeline, texts, config["batch_size"])
    pss = round(rss.peak_pss / 2**20) if rss.pss else None
    return {**config, "notes": len(texts), **result, "peak_rss_mb": round(rss.peak / 2**20), "peak_pss_mb": pss}


def measure_batch(config: dict, texts: list[str]) -> dict:
    """clinlink's batch runner (``clinlink annotate``'s path): notes given as table rows, JSONL shards in a temp folder."""
    import tempfile

    from clinlink.batch.core import BatchJob, PipelineSpec, RunOptions, cached_pipeline
    from clinlink.batch.inputs import NoteInput
    from clinlink.batch.local import run_local
    from clinlink.io.shards import OutputFolder

    started = time.perf_counter()
    notes = [NoteInput(id=f"note-{number}", origin=f"{config['dataset']}:{number}", text=text) for number, text in enumerate(texts)]
    spec = PipelineSpec.of(exclude=config["exclude"], **config.get("overrides", {}))
    options = RunOptions(n_process=config["processes"], batch_size=config["batch_size"], max_chars=max(map(len, texts)) + 1)
    cached_pipeline(spec)  # loaded before the CPU clock starts (run_local finds it in the cache)
    load_s = time.perf_counter() - started
    cpu = cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="clinlink-throughput-") as out:
        summary = run_local(BatchJob(notes, OutputFolder(Path(out), "jsonl"), spec, options))
    cpu = cpu_seconds() - cpu
    if summary.annotated != len(texts):
        raise SystemExit(f"{config}: {summary.errors} notes failed: {summary.error_reasons}")
    nlp = cached_pipeline(spec)
    reranker = nlp.get_pipe("linker").linker.reranker if "linker" in nlp.pipe_names else None
    return {
        # lists the cross-encoder scored in this process (the workers' own counts stay in the workers)
        "rerank_model_calls": reranker.model_calls if reranker is not None and config["processes"] == 1 else None,
        "mentions": summary.mentions, "load_s": round(load_s, 2), "cpu_s": round(cpu, 2), "seconds": round(summary.seconds - summary.load_seconds, 2),
        "notes_per_s": round(summary.notes_per_second, 2), "shards": summary.shards, "pipe_names": nlp.pipe_names,
    }


def cpu_seconds() -> float:
    """User + system CPU time of this process and its ended (reaped) children: the pool's workers once it shut down."""
    import resource

    return sum(usage.ru_utime + usage.ru_stime for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


def measure_pipe(build, texts: list[str], batch_size: int) -> dict:
    """A pipeline's ``nlp.pipe`` over the texts in this process (the baseline: no output written)."""
    started = time.perf_counter()
    nlp = build()
    loaded = time.perf_counter()
    nlp.max_length = max(nlp.max_length, max(map(len, texts)) + 1)
    cpu = cpu_seconds()
    mentions = sum(len(doc.ents) for doc in nlp.pipe(texts, batch_size=batch_size))
    seconds = time.perf_counter() - loaded
    return {"mentions": mentions, "load_s": round(loaded - started, 2), "seconds": round(seconds, 2), "cpu_s": round(cpu_seconds() - cpu, 2),
            "notes_per_s": round(len(texts) / seconds, 2), "pipe_names": nlp.pipe_names}


COLD_START = """
import time
started = time.perf_counter()
import clinlink
nlp = clinlink.load()
loaded = time.perf_counter()
nlp("FINDINGS: Small right pleural effusion. No pneumothorax. IMPRESSION: Cardiomegaly.")
import json, sys
json.dump({"load_s": round(loaded - started, 2), "first_doc_s": round(time.perf_counter() - loaded, 3),
           "total_s": round(time.perf_counter() - started, 2)}, sys.stdout)
"""


def cold_start() -> dict:
    wall = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", COLD_START], capture_output=True, text=True, check=True, cwd=ROOT)
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "process_wall_s": round(time.perf_counter() - wall, 2)}


# -- scispaCy baseline ------------------------------------------------------------------------------------------
def baseline_names() -> list[tuple[str, str]]:
    """(concept id, name) for every name clinlink's default NER matches: HPO + ICD-10-CM, DISO concepts."""
    from clinlink.kb import load_kb

    kb = load_kb()
    pairs = []
    for concept in kb.filter(groups=["DISO"], sources=["HP", "ICD10CM"]):
        for name in dict.fromkeys([concept.name, *(synonym.name for synonym in concept.synonyms)]):
            pairs.append((concept.id, name))
    return pairs


def build_baseline_index() -> None:
    """scispaCy's index recipe (create_tfidf_ann_index) over the baseline names, cached in results/."""
    import joblib
    import nmslib
    import numpy as np
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    pairs = baseline_names()
    aliases = sorted({name.lower() for _, name in pairs})
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), min_df=10, dtype=np.float32, max_df=1.0, lowercase=True)
    vectors = sp.csr_matrix(vectorizer.fit_transform(aliases))
    empty = np.diff(vectors.indptr) == 0  # scispaCy drops aliases without any kept 3-gram
    aliases = [alias for alias, drop in zip(aliases, empty) if not drop]
    vectors = vectors[~empty]
    index = nmslib.init(method="hnsw", space="cosinesimil_sparse", data_type=nmslib.DataType.SPARSE_VECTOR)
    index.addDataPointBatch(vectors)
    index.createIndex({"M": 32, "efConstruction": 200, "post": 0}, print_progress=False)
    INDEX_DIR.mkdir(parents=True, exist_ok=True)
    index.saveIndex(str(INDEX_DIR / "nmslib_index.bin"), save_data=True)
    joblib.dump(vectorizer, INDEX_DIR / "tfidf_vectorizer.joblib")
    (INDEX_DIR / "concept_aliases.json").write_text(json.dumps(aliases), encoding="utf-8")
    write_baseline_kb(pairs)


def write_baseline_kb(pairs: list[tuple[str, str]]) -> None:
    """scispaCy's KB file; names lower-cased like the index aliases (its alias -> concepts lookup is exact)."""
    by_concept: dict[str, list[str]] = {}
    for concept_id, name in pairs:
        names = by_concept.setdefault(concept_id, [])
        if name.lower() not in names:
            names.append(name.lower())
    with (INDEX_DIR / "kb.jsonl").open("w", encoding="utf-8") as out:
        for concept_id, names in by_concept.items():
            out.write(json.dumps({"concept_id": concept_id, "canonical_name": names[0], "aliases": names[1:], "types": []}) + "\n")


def baseline_pipeline():
    """spacy.blank + sentencizer + scispaCy AbbreviationDetector + n-gram mentions linked by scispaCy's CandidateGenerator."""
    import joblib
    import nmslib
    import spacy
    from scispacy.abbreviation import AbbreviationDetector  # noqa: F401 - registers the factory
    from scispacy.candidate_generation import CandidateGenerator
    from scispacy.linking_utils import KnowledgeBase
    from spacy.language import Language
    from spacy.tokens import Span
    from spacy.util import filter_spans

    index = nmslib.init(method="hnsw", space="cosinesimil_sparse", data_type=nmslib.DataType.SPARSE_VECTOR)
    index.loadIndex(str(INDEX_DIR / "nmslib_index.bin"), load_data=True)
    index.setQueryTimeParams({"efSearch": 200})
    generator = CandidateGenerator(
        name=None, kb=KnowledgeBase(str(INDEX_DIR / "kb.jsonl")), ann_index=index,
        tfidf_vectorizer=joblib.load(INDEX_DIR / "tfidf_vectorizer.joblib"),
        ann_concept_aliases_list=json.loads((INDEX_DIR / "concept_aliases.json").read_text(encoding="utf-8")),
    )

    @Language.component("ngram_scispacy_linker")
    def link_ngrams(doc):
        spans = []
        for sentence in doc.sents:
            for size in range(1, BASELINE_MAX_NGRAM + 1):
                for start in range(sentence.start, sentence.end - size + 1):
                    first, last = doc[start], doc[start + size - 1]
                    if any(t.is_punct or t.is_space for t in doc[start : start + size]) or first.is_stop or last.is_stop or not first.is_alpha:
                        continue
                    spans.append(doc[start : start + size])
        if not spans:
            return doc
        found = []
        for span, candidates in zip(spans, generator([span.text for span in spans], 10)):
            best = max(candidates, key=lambda c: max(c.similarities), default=None)
            if best is not None and max(best.similarities) >= BASELINE_THRESHOLD:
                entity = Span(doc, span.start, span.end, label="ENTITY", kb_id=best.concept_id)
                found.append(entity)
        doc.ents = filter_spans(found)
        return doc

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("abbreviation_detector")
    nlp.add_pipe("ngram_scispacy_linker")
    return nlp


# -- driver -----------------------------------------------------------------------------------------------------
def median_run(runs: list[dict]) -> dict:
    """The run with the median notes/s (the lower middle one for an even count), with every run's notes/s."""
    ordered = sorted(runs, key=lambda run: run["notes_per_s"])
    return {**ordered[(len(ordered) - 1) // 2], "notes_per_s_runs": [run["notes_per_s"] for run in runs]}


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def label(config: dict) -> str:
    """"clinlink", "clinlink (no linker)", "clinlink (reranker: None)"..."""
    notes = [f"no {','.join(config['exclude'])}"] if config["exclude"] else []
    notes += [f"{key}: {value}" for settings in config.get("overrides", {}).values() for key, value in settings.items()]
    return config["system"] + (f" ({'; '.join(notes)})" if notes else "")


def run_child(config: dict) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", json.dumps(config)], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"{config}: failed\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--aci-limit", type=int, default=None, help="ACI-BENCH notes (default: all)")
    parser.add_argument("--indiana-limit", type=int, default=0, help="Indiana reports (default 0: all 3,826 non-empty ones)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--repeats", type=positive_int, default=3, help="runs of each clinlink configuration; the median is reported")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(json.loads(args.child))))
        return
    datasets = []
    if ACI_DIR.is_dir():
        datasets.append(("aci-bench", args.aci_limit))
    else:
        print(f"skipping ACI-BENCH: {ACI_DIR} not found")
    if INDIANA.is_file():
        datasets.append(("indiana", args.indiana_limit or None))
    else:
        print(f"skipping Indiana reports: {INDIANA} not found")
    if not datasets:
        raise SystemExit("no benchmark data under ../shared/data; nothing to measure")

    from clinlink.pipeline import find_pipeline, read_pipeline_config

    # component names from the config: a pipeline loaded here slowed the children measured beside it
    components = read_pipeline_config(find_pipeline(None))["components"]
    names = [c.get("name", c["factory"]) for c in components]
    variants: list[tuple[str, list[str], dict]] = [("clinlink", [], {})]
    linker = next((c for c in components if c.get("name", c["factory"]) == "linker"), None)
    if linker is not None:
        from clinlink.linking.encoder import model_dir
        from clinlink.linking.rerank import DEFAULT_CROSS_ENCODER

        if (linker.get("config") or {}).get("reranker"):
            variants.append(("clinlink", [], {"linker": {"reranker": None}}))
        elif model_dir(DEFAULT_CROSS_ENCODER) is not None:
            variants.append(("clinlink", [], {"linker": {"reranker": "default"}}))
        variants.append(("clinlink", ["linker"], {}))
    if not args.no_baseline:
        if not (INDEX_DIR / "nmslib_index.bin").exists():
            print("building the scispaCy baseline index (once; cached in benchmarks/results/scispacy_index)")
            started = time.perf_counter()
            build_baseline_index()
            print(f"  built in {time.perf_counter() - started:.0f} s")
        variants.append(("scispacy-baseline", [], {}))

    cold = [cold_start() for _ in range(COLD_STARTS)]
    configs = [
        {"system": system, "exclude": exclude, "overrides": overrides, "dataset": dataset, "limit": limit, "processes": processes,
         "batch_size": args.batch_size}
        for dataset, limit in datasets
        for system, exclude, overrides in variants
        for processes in (args.processes if system == "clinlink" else args.processes[:1])  # the baseline's ratio is at 1 process
    ]
    runs: list[list[dict]] = [[] for _ in configs]
    for repeat in range(args.repeats):  # rounds over every configuration, so a slow spell of the machine hits them alike
        for config, done in zip(configs, runs):
            if config["system"] != "clinlink" and repeat:
                continue  # the baseline is slow and steady: one run
            print(f"running {label(config)} on {config['dataset']}, "
                  f"{config['processes']} process(es), round {repeat + 1}...", flush=True)
            done.append(run_child(config))
            print(f"  {done[-1]['notes_per_s']} notes/s, CPU {done[-1]['cpu_s']} s, load {done[-1]['load_s']} s, peak RSS {done[-1]['peak_rss_mb']} MB", flush=True)
    rows = [median_run(done) for done in runs]
    for config, row in zip(configs, rows):
        if config["system"] == "clinlink":
            print(f"memory round: {label(config)} on {config['dataset']}, {config['processes']} process(es)...", flush=True)
            row["peak_pss_mb"] = run_child({**config, "memory_round": True})["peak_pss_mb"]

    def find(system, dataset, processes, exclude=(), overrides=None):
        return next((r for r in rows if r["system"] == system and r["dataset"] == dataset and r["processes"] == processes
                     and tuple(r["exclude"]) == tuple(exclude) and r["overrides"] == (overrides or {})), None)

    print()
    header = f"{'dataset':<10} {'system':<40} {'proc':>4} {'notes':>6} {'notes/s':>8} {'mentions':>8} {'peak RSS MB':>11} {'peak PSS MB':>11} {'load s':>7} {'CPU s':>7}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['dataset']:<10} {label(r):<40} {r['processes']:>4} {r['notes']:>6} {r['notes_per_s']:>8.1f} {r['mentions']:>8} {r['peak_rss_mb']:>11} {r['peak_pss_mb'] or '':>11} {r['load_s']:>7.1f} {r['cpu_s']:>7.1f}")
    ratios = {}
    for dataset, _ in datasets:
        one, two, base = find("clinlink", dataset, 1), find("clinlink", dataset, 2), find("scispacy-baseline", dataset, 1)
        if one and two:
            ratios[f"{dataset}: 2 processes / 1"] = round(two["notes_per_s"] / one["notes_per_s"], 2)
            ratios[f"{dataset}: CPU time, 1 process / 2"] = round(one["cpu_s"] / two["cpu_s"], 2)
        if one and base:
            ratios[f"{dataset}: clinlink / scispaCy baseline (1 process)"] = round(one["notes_per_s"] / base["notes_per_s"], 2)
    print()
    for name, value in ratios.items():
        print(f"{name}: {value}x")
    loads, totals = sorted(c["load_s"] for c in cold), sorted(c["total_s"] for c in cold)
    print(f"cold start, {len(cold)} fresh interpreters: import + load median {statistics.median(loads)} s "
          f"(range {loads[0]}-{loads[-1]}); with the first doc median {statistics.median(totals)} s (range {totals[0]}-{totals[-1]})")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "throughput.json"
    out.write_text(json.dumps({"pipeline": names, "cold_start": cold, "runs": rows, "ratios": ratios, "cpus": os.cpu_count()}, indent=2), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
