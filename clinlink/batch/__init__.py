"""Batch annotation of note folders and tables: local processes or a Dask cluster, sharded atomic output."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from clinlink.batch.core import BatchJob, PipelineSpec, RunOptions, RunSummary
from clinlink.batch.inputs import NoteInput, collect_notes, count_notes
from clinlink.errors import ConfigError
from clinlink.io.shards import OutputFolder
from clinlink.io.writers import WriterOptions

ENGINES = ("local", "dask")


def annotate(
    source: Path,
    out: Path,
    fmt: str = "jsonl",
    pipeline: PipelineSpec = PipelineSpec(),
    options: RunOptions = RunOptions(),
    resume: bool = False,
    pattern: str = "**/*.txt",
    id_col: str = "id",
    text_cols: Sequence[str] = ("text",),
    engine: str = "local",
    scheduler: str | None = None,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
    writer_options: WriterOptions = WriterOptions(),
) -> RunSummary:
    """Annotates a folder of notes or a table into ``out`` (see ``clinlink annotate --help``)."""
    job = BatchJob(collect_notes(source, pattern, id_col, text_cols), OutputFolder(out, fmt, writer_options), pipeline, options, resume, progress)
    if engine == "local":
        from clinlink.batch.local import run_local

        return run_local(job)
    if engine == "dask":
        from clinlink.batch.dask_runner import run_dask

        return run_dask(job, scheduler, workers)
    raise ConfigError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")


__all__ = ["annotate", "BatchJob", "count_notes", "NoteInput", "PipelineSpec", "RunOptions", "RunSummary", "WriterOptions", "ENGINES"]
