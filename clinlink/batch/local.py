"""Annotate notes on this machine: one stream through ``nlp.pipe`` (``n_process`` workers), cut into shards."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from clinlink.batch.core import PipelineSpec, RunOptions, RunSummary, Shard, annotate_notes, cached_pipeline, select_notes
from clinlink.batch.inputs import NoteInput
from clinlink.io.shards import OutputFolder

Progress = Callable[[int], None]


def run_local(
    notes: Iterable[NoteInput],
    folder: OutputFolder,
    pipeline: PipelineSpec,
    options: RunOptions = RunOptions(),
    resume: bool = False,
    progress: Progress | None = None,
) -> RunSummary:
    """Annotates ``notes`` into ``folder``: a shard is committed every ``options.shard_size`` notes,
    ``errors.jsonl`` is rebuilt at the end. With ``resume``, notes of committed shards are skipped."""
    started = time.perf_counter()
    state = folder.prepare(resume)
    summary = RunSummary()
    nlp = cached_pipeline(pipeline)
    summary.load_seconds = time.perf_counter() - started
    next_index = state.next_shard
    shard: Shard | None = None
    try:
        for outcome in annotate_notes(nlp, select_notes(notes, state, summary), options):
            if shard is None:
                shard = Shard(folder, next_index, options.log_text)
                next_index += 1
            shard.add(outcome)
            if len(shard) >= options.shard_size:
                summary.add(shard.commit())
                shard = None
            if progress:
                progress(1)
        if shard is not None:
            summary.add(shard.commit())
    finally:
        folder.write_errors()
    summary.seconds = time.perf_counter() - started
    return summary
