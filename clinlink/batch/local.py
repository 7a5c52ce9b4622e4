"""Annotate notes on this machine: one stream in this process, or a pool of worker processes.

With ``n_process`` 1 the notes stream through ``nlp.pipe`` and a shard is committed every
``shard_size`` notes. With more, this process builds the pipeline once and a process pool
(:func:`clinlink.batch.partitions.process_pool`) runs one task per partition of the notes:
each worker annotates its partition with the inherited pipeline and commits the shard itself,
so only counts come back (spaCy's own ``n_process`` ships every Doc back to the parent).
"""

from __future__ import annotations

import time

from clinlink.batch.core import BatchJob, RunSummary, Shard, annotate_notes, cached_pipeline, select_notes
from clinlink.batch.partitions import process_pool, run_partitions
from clinlink.io.shards import ResumeState


def run_local(job: BatchJob) -> RunSummary:
    """Annotates ``job.notes`` into ``job.folder`` in shards of at most ``job.options.shard_size`` notes;
    ``errors.jsonl`` is rebuilt at the end. With ``job.resume``, notes of committed shards are skipped."""
    started = time.perf_counter()
    state = job.folder.prepare(job.resume)
    summary = RunSummary()
    cached_pipeline(job.pipeline)
    summary.load_seconds = time.perf_counter() - started
    try:
        if job.options.n_process > 1:
            with process_pool(job.pipeline, job.options.n_process) as pool:
                run_partitions(job, state, summary, pool, job.options.n_process)
        else:
            stream(job, state, summary)
    finally:
        job.folder.write_errors()
    summary.seconds = time.perf_counter() - started
    return summary


def stream(job: BatchJob, state: ResumeState, summary: RunSummary) -> None:
    """Annotates the notes in this process, committing a shard every ``shard_size`` notes."""
    options = job.options
    next_index = state.next_shard
    shard: Shard | None = None
    for outcome in annotate_notes(cached_pipeline(job.pipeline), select_notes(job.notes, state, summary), options):
        if shard is None:
            shard = Shard(job.folder, next_index, options.log_text)
            next_index += 1
        shard.add(outcome)
        if len(shard) >= options.shard_size:
            summary.add(shard.commit())
            shard = None
        if job.progress:
            job.progress(1)
    if shard is not None:
        summary.add(shard.commit())
