"""Annotate notes on a Dask cluster: one task and one output shard per partition of the input.

Each worker builds the pipeline once (:func:`cached_pipeline`, warmed on every worker at the
start) and reuses it for all its partitions (:mod:`clinlink.batch.partitions`). Workers read
folder notes and write shards themselves, so on a multi-machine cluster the input and output
folders must be on a file system every worker mounts at the same path.
"""

from __future__ import annotations

import logging
import time

from clinlink.batch.core import BatchJob, RunSummary
from clinlink.batch.partitions import run_partitions, warm_up
from clinlink.errors import ClinlinkError


def connect(scheduler: str | None, workers: int):
    """A client of the cluster at ``scheduler``, or of a new local cluster of ``workers`` single-threaded processes.

    Dask's own INFO logging (scheduler, nanny and connection events) is shown only when the root logger
    shows INFO (``clinlink -v``); importing ``distributed`` sets its level, so it is lowered after the import."""
    from dask.distributed import Client, LocalCluster

    if not logging.getLogger().isEnabledFor(logging.INFO):
        logging.getLogger("distributed").setLevel(logging.WARNING)

    if scheduler:
        try:
            return Client(scheduler, timeout="30s")
        except OSError as error:
            raise ClinlinkError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.WARNING)
    return Client(cluster)


def run_dask(job: BatchJob, scheduler: str | None = None, workers: int = 2) -> RunSummary:
    """Like :func:`clinlink.batch.local.run_local`, with the partitions as tasks of the cluster at ``scheduler``
    (or of a local cluster of ``workers`` processes)."""
    started = time.perf_counter()
    state = job.folder.prepare(job.resume)
    summary = RunSummary()
    client = connect(scheduler, workers)
    try:
        warmed = client.run(warm_up, job.pipeline)
        summary.load_seconds = time.perf_counter() - started
        run_partitions(job, state, summary, client.get_executor(pure=False), len(warmed))
    finally:
        job.folder.write_errors()
        cluster = None if scheduler else client.cluster
        client.close()
        if cluster is not None:
            cluster.close()
    summary.seconds = time.perf_counter() - started
    return summary
