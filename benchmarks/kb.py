"""Knowledge-base benchmark: build time, cold load time, peak memory and counts of the
default KB (HPO + ICD-10-CM), with the packages' own loaders as the baseline in the same run.

Every measurement runs in a fresh Python process (cold imports, own peak RSS):

- build: ``build_kb(force=True)`` into a temporary CLINLINK_HOME;
- load: ``load_kb()`` (config read, staleness check, unpickling) and ``load_compiled(dir)``,
  the median of ``--repeats`` fresh processes, timed from before ``import clinlink``;
- baseline: ``pyhpo.Ontology()`` (HPO only) and ``import simple_icd_10_cm`` (which parses
  its ICD-10-CM XML at import), whose sum does what one ``load_kb()`` does.

    python benchmarks/kb.py [--repeats 3]

Writes benchmarks/results/kb.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "kb.json"

#: Each snippet prints one JSON object; ``seconds`` is timed from before the first import.
_PRELUDE = "import json, resource, time\nstarted = time.perf_counter()\n"
_REPORT = (
    "print(json.dumps(dict(seconds=time.perf_counter() - started,"
    " peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra)))\n"
)
SNIPPETS = {
    "build": (
        "from clinlink.kb import build_kb\nfrom clinlink.kb.compiled import read_manifest\n"
        "out = build_kb(force=True)\nmanifest = read_manifest(out)\n"
        "extra = dict(counts=manifest['counts'], sources={s['name']: dict(version=s['version'], count=s['count'])"
        " for s in manifest['sources']}, kb_dir=str(out),"
        " size_mb=sum(f.stat().st_size for f in out.iterdir() if f.is_file()) / 2**20)\n"
    ),
    "load_kb": "from clinlink.kb import load_kb\nkb = load_kb()\nextra = dict(concepts=len(kb))\n",
    "load_compiled": (
        "import sys\nfrom clinlink.kb import load_compiled\nkb = load_compiled(sys.argv[1])\n"
        "extra = dict(concepts=len(kb))\n"
    ),
    "load_and_graph": (
        "from clinlink.kb import load_kb\nkb = load_kb()\nkb.ancestors('HP:0001640')\nkb.lookup('pleural effusion')\n"
        "extra = dict(concepts=len(kb))\n"
    ),
    "pyhpo_ontology": (
        "from pyhpo import Ontology\nontology = Ontology()\nextra = dict(concepts=len(ontology))\n"
    ),
    "simple_icd_10_cm_import": (
        "import simple_icd_10_cm as cm\nextra = dict(concepts=len(cm.get_all_codes(True)))\n"
    ),
}


def run(name: str, env: dict[str, str], *args: str) -> dict:
    code = _PRELUDE + SNIPPETS[name] + _REPORT
    result = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{name} failed:\n{result.stderr.strip()}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def median_run(name: str, env: dict[str, str], repeats: int, *args: str) -> dict:
    runs = [run(name, env, *args) for _ in range(repeats)]
    best = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return best | {"runs_seconds": [round(r["seconds"], 3) for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per load measurement (median)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clinlink_kb_bench_") as home:
        env = os.environ | {"CLINLINK_HOME": home, "PYTHONWARNINGS": "ignore"}
        build = run("build", env)
        results = {
            "build": build,
            "load_kb": median_run("load_kb", env, options.repeats),
            "load_compiled": median_run("load_compiled", env, options.repeats, build["kb_dir"]),
            "load_and_graph": median_run("load_and_graph", env, options.repeats),
            "pyhpo_ontology": median_run("pyhpo_ontology", env, options.repeats),
            "simple_icd_10_cm_import": median_run("simple_icd_10_cm_import", env, options.repeats),
        }
    baseline = results["pyhpo_ontology"]["seconds"] + results["simple_icd_10_cm_import"]["seconds"]
    results["baseline_seconds"] = baseline
    results["speedup_load_kb_vs_baseline"] = baseline / results["load_kb"]["seconds"]
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


def print_table(results: dict) -> None:
    build = results["build"]
    print(f"default KB: {build['counts']['concepts']:,} concepts, {build['counts']['names']:,} names, {build['size_mb']:.1f} MiB on disk")
    for name, source in build["sources"].items():
        print(f"  {name:<10} {source['count']:>8,} concepts  (version {source['version']})")
    print(f"\n{'measurement (fresh process)':<44}{'seconds':>9}{'peak RSS MiB':>14}{'concepts':>10}")
    rows = [
        ("clinlink build_kb(force=True)", "build"),
        ("clinlink load_kb()  (median)", "load_kb"),
        ("clinlink load_compiled(dir)  (median)", "load_compiled"),
        ("clinlink load_kb() + graph + name index", "load_and_graph"),
        ("baseline pyhpo Ontology()  (median)", "pyhpo_ontology"),
        ("baseline import simple_icd_10_cm  (median)", "simple_icd_10_cm_import"),
    ]
    for label, key in rows:
        row = results[key]
        concepts = row.get("concepts", build["counts"]["concepts"])
        print(f"{label:<44}{row['seconds']:>9.2f}{row['peak_rss_mb']:>14.0f}{concepts:>10,}")
    print(
        f"\nbaseline (pyhpo + simple_icd_10_cm) {results['baseline_seconds']:.2f} s vs clinlink load_kb() "
        f"{results['load_kb']['seconds']:.2f} s: {results['speedup_load_kb_vs_baseline']:.1f}x faster"
    )


if __name__ == "__main__":
    main()
