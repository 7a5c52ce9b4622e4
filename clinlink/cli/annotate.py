"""``clinlink annotate`` (folders and tables of notes -> sharded output) and ``clinlink render`` (one note -> HTML)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from clinlink.cli.options import ID_COL, TEXT_COL, resume_hint, text_columns
from clinlink.limits import MAX_NOTE_CHARS

app = typer.Typer()
console = Console()
err = Console(stderr=True)

PIPELINE = typer.Option(None, "--pipeline", "-p", help="Pipeline: a packaged name (clinical, radiology, phenotype; default clinical), a YAML path, or a saved pipeline dir.")
EXCLUDE = typer.Option([], "--exclude", help="Pipeline component to leave out (repeatable), e.g. --exclude linker.")


class NotesPerSecond(ProgressColumn):
    def render(self, task) -> Text:  # noqa: ANN001 - rich's Task
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} notes/s" if speed else "- notes/s", style="progress.data.speed")


@app.command()
def annotate(
    source: Path = typer.Argument(..., help="A folder of .txt notes (searched recursively) or a .csv/.parquet/.jsonl table."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: shards part-NNNNN.<ext>, errors.jsonl, _shards/ commit records."),
    fmt: str = typer.Option(
        "jsonl", "--format", "-f",
        help="jsonl | parquet | csv (notes/ and mentions/ tables) | brat | docbin | fhir (R4 Bundles, NDJSON) | bioc (XML) | pubtator | omop (NOTE_NLP).",
    ),
    pipeline: str = PIPELINE,
    exclude: list[str] = EXCLUDE,
    glob: str = typer.Option("**/*.txt", "--glob", help="Notes to read from a folder (pattern relative to it)."),
    id_col: str = ID_COL,
    text_col: list[str] = TEXT_COL,
    n_process: int = typer.Option(1, "--n-process", min=1, help="Local worker processes."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Notes per nlp.pipe batch."),
    shard_size: int = typer.Option(1000, "--shard-size", min=1, help="Notes per output shard (and per Dask task)."),
    max_chars: int = typer.Option(MAX_NOTE_CHARS, "--max-chars", min=1, help="Longer notes are not annotated (errors.jsonl)."),
    resume: bool = typer.Option(False, "--resume", help="Continue a run into OUT: notes already committed there are skipped."),
    engine: str = typer.Option("local", "--engine", help="local | dask."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address (tcp://host:8786); default: a local cluster."),
    workers: int = typer.Option(2, "--workers", min=1, help="Workers of the local Dask cluster."),
    log_text: bool = typer.Option(False, "--log-text", help="Allow note text in log messages (off: logs name notes by id and file only)."),
    rerank: str = typer.Option(
        None, "--rerank", help="Rerank the candidates of unsafe links with a cross-encoder: 'default' (the packaged cross-encoder) or a model directory."
    ),
    db: str = typer.Option(None, "--db", help="--format omop: write NOTE_NLP into this database (sqlite:///notes.db, postgresql://user@host/db)."),
    omop_vocab: Path = typer.Option(None, "--omop-vocab", help="--format omop: Athena vocabulary folder (CONCEPT.csv) for OMOP concept ids (else 0)."),
    extra_names: Path = typer.Option(
        None, "--extra-names", exists=True, dir_okay=False, help="YAML: concept id -> phrases the mention detector also reads as names of it."
    ),
    shorthand: Path = typer.Option(
        None, "--shorthand", exists=True, dir_okay=False, help="YAML: your short forms and their senses, read after clinlink's (see clinlink/ner/shorthand.yaml)."
    ),
    coding_lexicon: Path = typer.Option(
        None, "--coding-lexicon", exists=True, dir_okay=False,
        help="TSV: phrase -> ICD-10-CM code ('-': not coded), in place of the pipeline's (see `clinlink train coding-lexicon`).",
    ),
) -> None:
    """Annotate every note of a folder or table; bad notes go to OUT/errors.jsonl and the run goes on."""
    from clinlink.batch import annotate as run_annotate
    from clinlink.batch import count_notes
    from clinlink import __version__
    from clinlink.batch.core import PipelineSpec, RunOptions
    from clinlink.batch.inputs import check_source
    from clinlink.io.shards import ERRORS_FILE
    from clinlink.io.writers import WriterOptions, prepare_format
    from clinlink.pipeline import component_names

    options = RunOptions(max_chars=max_chars, batch_size=batch_size, n_process=n_process, shard_size=shard_size, log_text=log_text)
    if rerank and "linker" in exclude:
        raise typer.BadParameter("--rerank needs the linker; it is excluded", param_hint="--rerank")
    overrides: dict[str, dict] = {"linker": {"reranker": rerank}} if rerank else {}
    ner = {"extra_names": str(extra_names.resolve()) if extra_names else None, "extra_shorthand": str(shorthand.resolve()) if shorthand else None}
    if coding_lexicon:
        ner["coding_lexicon"] = str(coding_lexicon.resolve())
        if "linker" in component_names(pipeline) and "linker" not in exclude:
            overrides.setdefault("linker", {})["coding_lexicon"] = ner["coding_lexicon"]
    if any(ner.values()):
        overrides["ner"] = {key: value for key, value in ner.items() if value}
    spec = PipelineSpec.of(pipeline, exclude, **overrides)
    pipeline_name = Path(pipeline).stem if pipeline else "clinical"
    writer_options = WriterOptions(db=db, omop_vocab=None if omop_vocab is None else str(omop_vocab), nlp_system=f"clinlink {__version__} ({pipeline_name})")
    text_cols = text_columns(text_col)
    check_source(source, id_col, text_cols)
    prepare_format(fmt, writer_options)
    columns = (
        TextColumn("[bold]annotating"), BarColumn(), MofNCompleteColumn(), NotesPerSecond(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )
    with resume_hint(out), Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task("notes", total=count_notes(source, glob, id_col))
        summary = run_annotate(
            source, out, fmt, spec, options, resume, glob, id_col, text_cols, engine, scheduler, workers,
            progress=lambda done: progress.advance(task, done), writer_options=writer_options,
        )
    table = Table(title=f"clinlink annotate -> {out}", show_header=False)
    rows = [
        ("notes in input", f"{summary.inputs:,}"),
        ("skipped (done in an earlier run)", f"{summary.skipped:,}"),
        ("annotated", f"{summary.annotated:,}"),
        ("errors", f"{summary.errors:,}" + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(summary.error_reasons.items()))})" if summary.errors else "")),
        ("mentions", f"{summary.mentions:,}"),
        ("decoded as cp1252/latin-1", f"{summary.fallback_decoded:,}"),
        ("shards written", f"{summary.shards:,}"),
        ("time", f"{summary.seconds:.1f} s (pipeline load {summary.load_seconds:.1f} s)"),
        ("throughput", f"{summary.notes_per_second:.1f} notes/s"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if summary.errors:
        console.print(f"errors: {out / ERRORS_FILE}")


@app.command()
def render(
    note: Path = typer.Argument(..., help="A text file holding one note."),
    out: Path = typer.Option(..., "--out", "-o", help="HTML file to write."),
    pipeline: str = PIPELINE,
    exclude: list[str] = EXCLUDE,
    max_chars: int = typer.Option(MAX_NOTE_CHARS, "--max-chars", min=1, help="Refuse longer notes."),
) -> None:
    """Write a displaCy HTML page of one note: mentions coloured by assertion, with concept id, name and codes."""
    from clinlink.batch.core import PipelineSpec
    from clinlink.batch.inputs import NoteError, NoteInput, read_note
    from clinlink.errors import ClinlinkError, SourceFormatError
    from clinlink.io.render import write_html

    try:
        text = read_note(NoteInput(note.stem, str(note), path=str(note)), max_chars)
    except NoteError as error:
        raise SourceFormatError(note, str(error)) from None
    nlp = PipelineSpec.of(pipeline, exclude).load()
    nlp.max_length = max(nlp.max_length, max_chars + 1)
    doc = nlp(text.text)
    try:
        write_html(doc, out, title=note.name)
    except OSError as error:
        raise ClinlinkError(f"{out}: cannot write ({error.strerror or error})") from None
    console.print(f"{len(doc.ents)} mentions -> {out}")
