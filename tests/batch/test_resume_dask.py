"""An interrupted run resumed without losing or repeating notes; the Dask engine writes what the local one does."""

from __future__ import annotations

import signal
from collections import Counter

import pytest

from clinlink.io.shards import OutputFolder

def test_killed_run_then_resume_loses_and_repeats_no_note(cli, tmp_path, test_pipeline, records_of, make_notes, sample_notes, start_annotate):
    texts = list(sample_notes.values())
    notes = make_notes(tmp_path / "notes", {f"batch{i // 100}/n{i:04d}.txt": texts[i % len(texts)] for i in range(1200)})
    out = tmp_path / "out"
    process = start_annotate(out, notes, "--pipeline", test_pipeline, "--shard-size", "10", "--batch-size", "4")
    process.send_signal(signal.SIGKILL)
    process.wait()
    committed_before = len(OutputFolder(out, "jsonl").commit_records())
    assert 3 <= committed_before < 120, "the run must be killed part-way"

    result = cli("annotate", notes, "-o", out, "--pipeline", test_pipeline, "--shard-size", "10", "--resume")
    assert result.exit_code == 0, result.output
    ids = Counter(record["id"] for record in records_of(out))
    assert len(ids) == 1200 and set(ids.values()) == {1}
    assert not list(out.glob(".*.tmp-*"))
    summary = " ".join(result.output.split())
    assert f"skipped (done in an earlier run) │ {committed_before * 10:,}" in summary

    again = cli("annotate", notes, "-o", out, "--pipeline", test_pipeline, "--resume")
    assert again.exit_code == 0
    assert "annotated │ 0" in " ".join(again.output.split())
    assert Counter(record["id"] for record in records_of(out)) == ids


def test_uncommitted_shard_files_are_redone_on_resume(cli, tmp_path, test_pipeline, records_of, notes_dir):
    out = tmp_path / "out"
    assert cli("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline, "--shard-size", "2").exit_code == 0
    (out / "_shards" / "part-00001.json").unlink()  # as if killed between writing the shard and committing it
    (out / ".part-00002.jsonl.tmp-123").write_text("half a line", encoding="utf-8")
    assert cli("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline, "--shard-size", "2", "--resume").exit_code == 0
    assert Counter(r["id"] for r in records_of(out)) == Counter({"cxr/report1": 1, "cxr/report2": 1, "clinic/visit": 1, "short": 1})
    assert sorted(p.name for p in out.glob("part-*")) == ["part-00000.jsonl", "part-00002.jsonl"]
    assert not list(out.glob(".*tmp*"))


def test_dask_local_cluster_matches_the_local_engine(tmp_path, test_pipeline, records_of, errors_of, make_notes, sample_notes):
    distributed = pytest.importorskip("distributed")
    from clinlink.batch import annotate
    from clinlink.batch.core import PipelineSpec, RunOptions, pipeline_loads

    texts = list(sample_notes.values())
    notes = make_notes(tmp_path / "notes", {f"n{i:03d}.txt": texts[i % len(texts)] for i in range(30)} | {"bad.txt": b"\x00\x01"})
    spec = PipelineSpec.of(test_pipeline)
    options = RunOptions(shard_size=4)
    local = annotate(notes, tmp_path / "local", pipeline=spec, options=options)
    seen = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = annotate(notes, tmp_path / "dask", pipeline=spec, options=options, engine="dask", scheduler=cluster.scheduler_address, progress=seen.append)
        with distributed.Client(cluster) as client:
            loads = client.run(pipeline_loads)
    assert sorted(loads.values()) == [1, 1]  # one pipeline per worker, reused by all its tasks
    assert (dask.annotated, dask.errors, dask.mentions) == (local.annotated, local.errors, local.mentions)
    assert (dask.annotated, dask.errors) == (30, 1) and dask.mentions >= 60
    assert dask.shards == 8 and sum(seen) == 31
    assert sorted(records_of(tmp_path / "dask"), key=lambda r: r["id"]) == sorted(records_of(tmp_path / "local"), key=lambda r: r["id"])
    assert errors_of(tmp_path / "dask") == errors_of(tmp_path / "local")
    assert len(list((tmp_path / "dask").glob("part-*.jsonl"))) == 8
