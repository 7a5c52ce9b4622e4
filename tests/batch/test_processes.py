"""``--n-process 2``: a pool of forked workers, each committing its own shards; the same records as one process."""

from __future__ import annotations

import signal
from collections import Counter

import psutil
import pytest

from clinlink.batch import annotate
from clinlink.batch.core import PipelineSpec, RunOptions, cached_pipeline, pipeline_loads
from clinlink.batch.partitions import partition_size, process_pool, warm_up
from clinlink.io.shards import OutputFolder

@pytest.fixture()
def many_notes(tmp_path, make_notes, sample_notes):
    texts = list(sample_notes.values())
    return make_notes(tmp_path / "notes", {f"n{i:03d}.txt": texts[i % len(texts)] for i in range(40)} | {"n020-bad.txt": b"\x00\x01"})


def test_two_processes_write_the_records_and_errors_of_one(tmp_path, many_notes, test_pipeline, records_of, errors_of):
    spec = PipelineSpec.of(test_pipeline)
    one = annotate(many_notes, tmp_path / "one", pipeline=spec, options=RunOptions(shard_size=7))
    seen: list[int] = []
    two = annotate(many_notes, tmp_path / "two", pipeline=spec, options=RunOptions(shard_size=7, n_process=2), progress=seen.append)
    assert records_of(tmp_path / "two") == records_of(tmp_path / "one")  # partitions are consecutive notes, shards numbered in input order
    assert errors_of(tmp_path / "two") == errors_of(tmp_path / "one") == [{"id": "n020-bad", "origin": "n020-bad.txt", "reason": "binary file (contains NUL bytes)"}]
    assert (two.annotated, two.errors, two.mentions) == (one.annotated, one.errors, one.mentions) == (40, 1, one.mentions)
    assert one.mentions >= 80
    assert partition_size(41, 2, 7) == 7 and two.shards == 6  # at most shard_size notes per partition
    assert partition_size(41, 2, 100) == 11  # and at least 2 partitions per process
    assert len(seen) == 6 and sum(seen) == 41  # progress advances once per committed partition


def test_forked_workers_reuse_the_parents_pipeline(test_pipeline):
    spec = PipelineSpec.of(test_pipeline)
    cached_pipeline(spec)
    built = pipeline_loads()
    with process_pool(spec, 2) as pool:
        names = [pool.submit(warm_up, spec) for _ in range(4)]
        assert {future.result() for future in names} == {",".join(cached_pipeline(spec).pipe_names)}
        assert {pool.submit(pipeline_loads).result() for _ in range(4)} == {built}  # inherited, not built again


def test_spawn_fallback_writes_the_same_records(tmp_path, many_notes, test_pipeline, records_of, monkeypatch):
    spec = PipelineSpec.of(test_pipeline)
    annotate(many_notes, tmp_path / "one", pipeline=spec, options=RunOptions(shard_size=7))
    monkeypatch.setattr("clinlink.batch.partitions.start_method", lambda: "spawn")
    spawned = annotate(many_notes, tmp_path / "spawn", pipeline=spec, options=RunOptions(shard_size=7, n_process=2))
    assert records_of(tmp_path / "spawn") == records_of(tmp_path / "one")
    assert (spawned.annotated, spawned.errors) == (40, 1)


def test_killed_two_process_run_then_resume_loses_and_repeats_no_note(cli, tmp_path, test_pipeline, records_of, make_notes, sample_notes, start_annotate):
    texts = list(sample_notes.values())
    notes = make_notes(tmp_path / "notes", {f"batch{i // 100}/n{i:04d}.txt": texts[i % len(texts)] for i in range(1200)})
    out = tmp_path / "out"
    process = start_annotate(out, notes, "--pipeline", test_pipeline, "--shard-size", "10", "--n-process", "2")
    workers = psutil.Process(process.pid).children()
    assert len(workers) == 2
    process.send_signal(signal.SIGKILL)  # the parent only: its workers must not outlive it
    process.wait()
    _, alive = psutil.wait_procs(workers, timeout=30)
    for worker in alive:
        worker.kill()
    assert not alive
    committed_before = len(OutputFolder(out, "jsonl").commit_records())
    assert 3 <= committed_before < 120, "the run must be killed part-way"

    result = cli("annotate", notes, "-o", out, "--pipeline", test_pipeline, "--shard-size", "10", "--n-process", "2", "--resume")
    assert result.exit_code == 0, result.output
    ids = Counter(record["id"] for record in records_of(out))
    assert len(ids) == 1200 and set(ids.values()) == {1}
    assert not list(out.glob(".*.tmp-*"))
    assert f"skipped (done in an earlier run) │ {committed_before * 10:,}" in " ".join(result.output.split())


def layer_norm_rows() -> int:
    import torch

    return torch.nn.functional.layer_norm(torch.rand(256, 4096), (4096,)).shape[0]


def test_forked_workers_use_torch_after_the_parent_used_its_threads(test_pipeline):
    """libgomp hangs a forked child that enters an OpenMP region the parent already ran with several threads."""
    torch = pytest.importorskip("torch")
    spec = PipelineSpec.of(test_pipeline)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert layer_norm_rows() == 256  # the parent's OpenMP team now has 2 threads
        with process_pool(spec, 2) as pool:
            futures = [pool.submit(layer_norm_rows) for _ in range(4)]
            try:
                assert [future.result(timeout=60) for future in futures] == [256] * 4
            finally:
                if not all(future.done() for future in futures):  # hung workers: the pool could not shut down
                    for worker in psutil.Process().children():
                        worker.kill()
    finally:
        torch.set_num_threads(threads)
