"""Annotate notes on a Dask cluster: one task and one output shard per partition of the input.

Each worker builds the pipeline once (:func:`cached_pipeline`, warmed on every worker at the
start) and reuses it for all its partitions. Workers read folder notes and write shards
themselves, so on a multi-machine cluster the input and output folders must be on a file
system every worker mounts at the same path.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from clinlink.batch.core import PipelineSpec, RunOptions, RunSummary, Shard, annotate_notes, cached_pipeline, select_notes
from clinlink.batch.inputs import NoteInput
from clinlink.batch.local import Progress
from clinlink.errors import ClinlinkError
from clinlink.io.shards import OutputFolder


def annotate_partition(notes: list[NoteInput], out_dir: str, fmt: str, shard_index: int, pipeline: PipelineSpec, options: RunOptions) -> RunSummary:
    """The Dask task: annotates one partition into one committed shard; returns its counts (no documents)."""
    shard = Shard(OutputFolder(Path(out_dir), fmt), shard_index, options.log_text)
    for outcome in annotate_notes(cached_pipeline(pipeline), notes, replace(options, n_process=1)):
        shard.add(outcome)
    return shard.commit()


def warm_up(pipeline: PipelineSpec) -> str:
    """Builds the worker's pipeline before the first task; returns its component names."""
    return ",".join(cached_pipeline(pipeline).pipe_names)


def connect(scheduler: str | None, workers: int):
    """A client of the cluster at ``scheduler``, or of a new local cluster of ``workers`` single-threaded processes."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="30s")
        except OSError as error:
            raise ClinlinkError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.WARNING)
    return Client(cluster)


def run_dask(
    notes: Iterable[NoteInput],
    folder: OutputFolder,
    pipeline: PipelineSpec,
    options: RunOptions = RunOptions(),
    resume: bool = False,
    progress: Progress | None = None,
    scheduler: str | None = None,
    workers: int = 2,
) -> RunSummary:
    """Like :func:`clinlink.batch.local.run_local`, with partitions of ``options.shard_size`` notes as Dask tasks."""
    from dask.distributed import as_completed

    started = time.perf_counter()
    state = folder.prepare(resume)
    summary = RunSummary()
    todo = list(select_notes(notes, state, summary))
    partitions = [todo[start : start + options.shard_size] for start in range(0, len(todo), options.shard_size)]
    client = connect(scheduler, workers)
    try:
        client.run(warm_up, pipeline)
        summary.load_seconds = time.perf_counter() - started
        run_id = uuid.uuid4().hex[:8]
        futures = [
            client.submit(annotate_partition, partition, str(folder.path.resolve()), folder.fmt, state.next_shard + number, pipeline, options,
                          key=f"clinlink-annotate-{run_id}-{number}")
            for number, partition in enumerate(partitions)
        ]
        for future in as_completed(futures):
            result = future.result()
            summary.add(result)
            if progress:
                progress(result.annotated + result.errors)
    finally:
        folder.write_errors()
        cluster = None if scheduler else client.cluster
        client.close()
        if cluster is not None:
            cluster.close()
    summary.seconds = time.perf_counter() - started
    return summary
