"""Partitioned runs, shared by the local process pool and the Dask engine.

The notes still to do are cut into partitions; each partition is one task that annotates its
notes with the worker's cached pipeline and commits them as one shard, returning only its
:class:`RunSummary` (no documents travel back). Any ``concurrent.futures`` executor runs the
tasks: a process pool (:func:`process_pool`) or a Dask client's executor.
"""

from __future__ import annotations

import ctypes
import gc
import math
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import replace

from clinlink.batch.core import (
    BatchJob, PipelineSpec, RunOptions, RunSummary, Shard, annotate_notes, cached_pipeline, select_notes,
)
from clinlink.batch.inputs import NoteInput
from clinlink.io.shards import OutputFolder, ResumeState

PR_SET_PDEATHSIG = 1  # linux/prctl.h
# At least this many tasks per worker, so workers finish together. Not more: each task starts its own stream
# through the pipeline and flushes the linker's batch at its end (back to back on 2 cores, 2 tasks per worker
# annotated ACI-BENCH and the Indiana reports 0-19 % faster than 4).
PARTITIONS_PER_WORKER = 2


def partition_size(notes: int, workers: int, shard_size: int) -> int:
    """Notes per partition: at most ``shard_size``, small enough for ``PARTITIONS_PER_WORKER`` partitions per worker."""
    return max(1, min(shard_size, math.ceil(notes / (max(workers, 1) * PARTITIONS_PER_WORKER))))


def annotate_partition(notes: list[NoteInput], folder: OutputFolder, shard_index: int, pipeline: PipelineSpec, options: RunOptions) -> RunSummary:
    """One task: annotates a partition into one committed shard; returns its counts (no documents)."""
    shard = Shard(folder, shard_index, options.log_text)
    for outcome in annotate_notes(cached_pipeline(pipeline), notes, replace(options, n_process=1)):
        shard.add(outcome)
    return shard.commit()


#: Exact KB names and a misspelt one ("cardiomegally"): the misspelling takes the fuzzy matcher and the linker's
#: dense path (encoder, vector search, per-concept rows), which exact names skip, so those are warmed too.
WARM_UP_TEXT = "FINDINGS: Small right pleural effusion. No pneumothorax. Mild cardiomegally.\n\nIMPRESSION: Cardiomegaly."


def warm_up(pipeline: PipelineSpec) -> str:
    """Builds the pipeline and runs it on a short note, so what its components prepare on first use is
    ready before the first task (and, before a fork, shared by the workers); returns the component names."""
    nlp = cached_pipeline(pipeline)
    nlp(WARM_UP_TEXT)
    return ",".join(nlp.pipe_names)


def run_partitions(job: BatchJob, state: ResumeState, summary: RunSummary, executor: Executor, workers: int) -> None:
    """Submits every partition of the notes not done yet to ``executor``; adds each shard's counts to ``summary``
    and advances ``job.progress`` as each one is committed (in completion order)."""
    todo = list(select_notes(job.notes, state, summary))
    size = partition_size(len(todo), workers, job.options.shard_size)
    folder = OutputFolder(job.folder.path.resolve(), job.folder.fmt, job.folder.options)
    futures = [
        executor.submit(annotate_partition, todo[start : start + size], folder, state.next_shard + number, job.pipeline, job.options)
        for number, start in enumerate(range(0, len(todo), size))
    ]
    for future in as_completed(futures):
        result = future.result()
        summary.add(result)
        if job.progress:
            job.progress(result.annotated + result.errors)


def start_worker(parent: int, pipeline: PipelineSpec | None) -> None:
    """A pool worker's initializer: on Linux it is killed when the run's process dies (so no orphan keeps
    writing shards beside a resumed run); with ``pipeline`` (spawn) it builds the pipeline.

    Each worker computes on one thread: torch gets one intra-op thread, as in PyTorch's own DataLoader
    workers (a forked child that enters an OpenMP region the parent already used hangs in libgomp), and
    Hugging Face tokenizers are told not to start their thread pool (they would warn about the fork).
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl
            os._exit(1)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    if pipeline is not None:
        warm_up(pipeline)
    if "torch" in sys.modules:  # imported by the pipeline (an encoder); not imported here otherwise
        sys.modules["torch"].set_num_threads(1)


def start_method() -> str:
    """``fork`` on Linux; elsewhere ``spawn`` (Windows has no fork; macOS's is unsafe with its system libraries)."""
    return "fork" if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods() else "spawn"


@contextmanager
def process_pool(pipeline: PipelineSpec, processes: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``processes`` workers that each hold ``pipeline``.

    With ``fork`` this process builds and warms it (:func:`warm_up`) first: the workers
    inherit that copy copy-on-write, so nothing is loaded again (what is alive at the fork is
    frozen first, as :mod:`clinlink.memory` does after loading, so the workers' garbage
    collector does not write to those pages). With ``spawn`` each worker builds its own at start.
    Workers die with this process (Linux), so a killed run leaves no worker writing.
    On leaving, partitions not started yet are cancelled (an error or Ctrl-C stops the run;
    ``--resume`` continues it from the committed shards).
    """
    method = start_method()
    if method == "fork":
        warm_up(pipeline)
        gc.freeze()
    context = multiprocessing.get_context(method)
    pool = ProcessPoolExecutor(processes, mp_context=context, initializer=start_worker, initargs=(os.getpid(), None if method == "fork" else pipeline))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
