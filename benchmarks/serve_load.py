"""Load test of ``clinlink serve``: N concurrent clients posting ACI-BENCH notes, beside the batch runner on the same notes.

    python benchmarks/serve_load.py [--clients 8] [--seconds 60] [--limit N] [--workers 1] [--batch-size 32] [--rounds 3]

Data: ../shared/data/notes/aci-bench/*.csv (column ``note``; read as benchmarks/throughput.py reads it), skipped
with a message when absent.

1. The server: ``clinlink serve --workers W`` (default pipeline) in a subprocess on a free 127.0.0.1 port. Start-up
   to first answer is the time from starting the process to the first 200 of ``POST /annotate`` (one short note);
   run it with a warm cache (the KB and the linker's indexes built by an earlier run).
2. Load: N client threads, each on its own keep-alive connection, post the notes one per request
   (``{"id", "text"}``), each note once in order, until all are answered or ``--seconds`` pass. notes/s counts the
   notes answered over the load's wall time; latency is per request; an error is any answer but a 200 with the
   note's record, or a failed connection. The server's /health gives the mean nlp.pipe batch size.
3. Baseline, same run: the batch runner (``clinlink annotate``'s path) with W processes on the same notes, in a fresh
   process, measured by ``benchmarks/throughput.py``'s child (notes/s from the end of loading to the last shard).
   With every note answered, both find the same mentions (checked). Beside the start-up: a fresh interpreter's
   ``import clinlink; clinlink.load(); nlp(note)`` (throughput.py's cold start), what any process pays before its
   first note; the difference is the server's own start.

Each round runs all three, each in a fresh process (a server reused would answer from the linker's caches); the
table gives each system's median round, with every round's serve / batch runner ratio.

Writes benchmarks/results/serve_load.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from throughput import ACI_DIR, RESULTS, ROOT, aci_notes, cold_start, run_child

RUN_CLI = "import sys; from clinlink.cli.main import run; sys.argv[0] = 'clinlink'; run()"
FIRST_NOTE = json.dumps({"text": "No pleural effusion."})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(connection: http.client.HTTPConnection, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
    connection.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    response = connection.getresponse()
    return response.status, response.read()


def health(port: int) -> dict:
    return json.loads(request(http.client.HTTPConnection("127.0.0.1", port, timeout=60), "GET", "/health")[1])


def start_server(port: int, workers: int, batch_size: int, log_path: Path) -> tuple[subprocess.Popen, float]:
    """The server process and its start-up to first answer, in seconds."""
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", RUN_CLI, "serve", "--port", str(port), "--workers", str(workers), "--batch-size", str(batch_size), "--no-access-log"],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    while time.perf_counter() - started < 600:
        if process.poll() is not None:
            raise SystemExit(f"clinlink serve exited with {process.returncode}; see {log_path}")
        try:
            status, _ = request(http.client.HTTPConnection("127.0.0.1", port, timeout=60), "POST", "/annotate", FIRST_NOTE)
            if status == 200:
                return process, time.perf_counter() - started
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise SystemExit(f"clinlink serve did not answer in 600 s; see {log_path}")


def load(port: int, notes: list[str], clients: int, seconds: float) -> dict:
    """Every note posted once by ``clients`` threads (or until ``seconds`` pass): counts, latencies, errors."""
    lock = threading.Lock()
    queue = iter(enumerate(notes))
    latencies: list[float] = []
    errors: list[str] = []
    mentions = [0]
    deadline = time.perf_counter() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.perf_counter() < deadline:
            with lock:
                number, text = next(queue, (None, None))
            if number is None:
                return
            sent = time.perf_counter()
            try:
                status, body = request(connection, "POST", "/annotate", json.dumps({"id": f"note-{number}", "text": text}))
                record = json.loads(body) if status == 200 else None
            except (OSError, http.client.HTTPException, ValueError) as error:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                status, record = f"{type(error).__name__}", None
            with lock:
                if record is not None and record.get("id") == f"note-{number}":
                    latencies.append(time.perf_counter() - sent)
                    mentions[0] += len(record["entities"])
                else:
                    errors.append(f"note-{number}: {status}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "answered": len(latencies), "errors": len(errors), "error_examples": errors[:5], "seconds": round(wall, 2),
        "notes_per_s": round(len(latencies) / wall, 2), "mentions": mentions[0],
        "p50_ms": round(1000 * statistics.median(ordered), 1) if ordered else None,
        "p95_ms": round(1000 * ordered[max(0, int(0.95 * len(ordered)) - 1)], 1) if ordered else None,
    }


def serve_round(notes: list[str], args: argparse.Namespace) -> dict:
    """A fresh server (its caches cold, like the batch runner's fresh process): start-up, then the load."""
    port = free_port()
    process, startup_s = start_server(port, args.workers, args.batch_size, RESULTS / "serve_load.log")
    try:
        before = health(port)
        served = load(port, notes, args.clients, args.seconds)
        after = health(port)
    finally:
        process.terminate()
        process.wait(timeout=60)
    batches = after["batches"] - before["batches"]
    served["mean_batch_notes"] = round((after["notes"] - before["notes"]) / batches, 2) if batches and args.workers == 1 else None
    return {**served, "startup_s": round(startup_s, 2)}


def median_by(runs: list[dict], key: str) -> dict:
    return sorted(runs, key=lambda run: run[key])[(len(runs) - 1) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0, help="bound on each load's duration")
    parser.add_argument("--limit", type=int, default=None, help="ACI-BENCH notes (default: all 207)")
    parser.add_argument("--workers", type=int, default=1, help="server workers, and the batch runner's processes")
    parser.add_argument("--batch-size", type=int, default=32, help="notes per nlp.pipe batch, for both")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of server, batch runner and cold start; medians are reported")
    args = parser.parse_args()
    if not ACI_DIR.is_dir():
        print(f"skipping: {ACI_DIR} not found (ACI-BENCH notes)")
        return
    notes = aci_notes(args.limit)
    RESULTS.mkdir(parents=True, exist_ok=True)
    batch_config = {"system": "clinlink", "exclude": [], "overrides": {}, "dataset": "aci-bench", "limit": args.limit,
                    "processes": args.workers, "batch_size": args.batch_size}
    rounds = []
    for number in range(1, args.rounds + 1):  # rounds, so a slow spell of the shared machine hits both alike
        print(f"round {number}: clinlink serve ({args.workers} worker(s), {args.clients} clients, {len(notes)} notes, at most {args.seconds:.0f} s)...", flush=True)
        served = serve_round(notes, args)
        print(f"  first answer {served['startup_s']} s after start; {served['notes_per_s']} notes/s, {served['errors']} errors", flush=True)
        batch = run_child(batch_config)
        print(f"  batch runner: {batch['notes_per_s']} notes/s", flush=True)
        cold = cold_start()
        print(f"  fresh interpreter, import + load + first note: {cold['process_wall_s']} s", flush=True)
        rounds.append({"serve": served, "batch_runner": batch, "cold_start": cold, "ratio": round(served["notes_per_s"] / batch["notes_per_s"], 3)})

    served = median_by([r["serve"] for r in rounds], "notes_per_s")
    batch = median_by([r["batch_runner"] for r in rounds], "notes_per_s")
    ratios = [r["ratio"] for r in rounds]
    startups = sorted(r["serve"]["startup_s"] for r in rounds)
    colds = sorted(r["cold_start"]["process_wall_s"] for r in rounds)
    header = f"{'system (median of ' + str(len(rounds)) + ' rounds)':<44} {'notes':>6} {'notes/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7} {'mentions':>8}"
    print()
    print(header)
    print("-" * len(header))
    print(f"{f'clinlink serve, {args.workers} worker(s), {args.clients} clients':<44} {served['answered']:>6} {served['notes_per_s']:>8.1f} "
          f"{served['p50_ms']:>8} {served['p95_ms']:>8} {sum(r['serve']['errors'] for r in rounds):>7} {served['mentions']:>8}")
    print(f"{f'batch runner, {args.workers} process(es)':<44} {batch['notes']:>6} {batch['notes_per_s']:>8.1f} {'':>8} {'':>8} {0:>7} {batch['mentions']:>8}")
    print(f"\nserve / batch runner by round: {', '.join(f'{ratio:.2f}' for ratio in ratios)} (median {statistics.median(ratios):.2f}); "
          f"mean batch {served['mean_batch_notes']} notes")
    print(f"start-up to first answer: median {statistics.median(startups):.2f} s ({startups[0]}-{startups[-1]}); "
          f"a fresh interpreter's import + load + first note: median {statistics.median(colds):.2f} s ({colds[0]}-{colds[-1]})")
    for r in rounds:
        if r["serve"]["answered"] == r["batch_runner"]["notes"] and r["serve"]["mentions"] != r["batch_runner"]["mentions"]:
            print(f"warning: the server found {r['serve']['mentions']} mentions, the batch runner {r['batch_runner']['mentions']}")
    out = RESULTS / "serve_load.json"
    out.write_text(json.dumps({"args": vars(args), "rounds": rounds, "median_ratio": statistics.median(ratios), "cpus": os.cpu_count()}, indent=2), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
