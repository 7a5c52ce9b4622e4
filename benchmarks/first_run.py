"""What the first run costs: `clinlink annotate examples/notes` on an empty cache, then again on a warm one.

Each run is a fresh process with its own empty ``CLINLINK_HOME`` (the first run compiles the KB and builds
every index and lookup table), timed from the command's start to its exit. Baseline, in the same run
(``--baseline``): the same first run with an encoder directory that lacks the shipped name vectors, so
the dense index encodes all ~99k names, as every fresh install did before the vectors were shipped.

    python benchmarks/first_run.py [--baseline] [--out benchmarks/results/first_run.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT / "examples" / "notes"
RESULTS = ROOT / "benchmarks" / "results"
CLI = [sys.executable, "-m", "clinlink"]
PIPELINE_WITH_ENCODER = """\
from clinlink.resources import PIPELINE, packaged_dir
import yaml, sys
config = yaml.safe_load((packaged_dir(PIPELINE) / "clinical.yaml").read_text())
for component in config["components"]:
    if component["factory"] == "clinlink_linker":
        component.setdefault("config", {})["encoder"] = sys.argv[1]
print(yaml.safe_dump(config))
"""


def timed_run(home: Path, out: Path, pipeline: Path | None = None) -> dict:
    env = {**os.environ, "CLINLINK_HOME": str(home)}
    command = [*CLI, "annotate", str(NOTES), "-o", str(out)] + (["--pipeline", str(pipeline)] if pipeline else [])
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    steps = [line for line in result.stderr.splitlines() if line.startswith("clinlink:") and "done in" in line]
    return {"seconds": round(seconds, 1), "steps": steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", action="store_true", help="also time a first run without the shipped name vectors")
    parser.add_argument("--out", type=Path, default=RESULTS / "first_run.json")
    args = parser.parse_args()
    notes = len(list(NOTES.glob("*.txt")))
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        home = scratch / "home"
        rows.append({"run": "first run, empty cache (shipped name vectors)", **timed_run(home, scratch / "out1")})
        rows.append({"run": "second run, warm cache", **timed_run(home, scratch / "out2")})
        if args.baseline:
            from clinlink.linking.encoder import DEFAULT_BI_ENCODER, model_dir
            from clinlink.linking.name_vectors import NAMES_FILE, VECTORS_FILE

            bare = scratch / "bi-encoder-without-vectors"
            shutil.copytree(model_dir(DEFAULT_BI_ENCODER), bare, ignore=shutil.ignore_patterns(VECTORS_FILE, NAMES_FILE))
            pipeline = scratch / "clinical-bare-encoder.yaml"
            config = subprocess.run([sys.executable, "-c", PIPELINE_WITH_ENCODER, str(bare)], capture_output=True, text=True, check=True)
            pipeline.write_text(config.stdout, encoding="utf-8")
            rows.append({"run": "baseline: first run, every name encoded", **timed_run(scratch / "home-bare", scratch / "out3", pipeline)})
    print(f"\n`clinlink annotate examples/notes` ({notes} notes), {os.cpu_count()} cores\n")
    print("| run | seconds |\n|---|---|")
    for row in rows:
        print(f"| {row['run']} | {row['seconds']} |")
    for row in rows:
        for step in row["steps"]:
            print(f"  [{row['run']}] {step}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"notes": notes, "cores": os.cpu_count(), "runs": rows}, indent=2), encoding="utf-8")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
