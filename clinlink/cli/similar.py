"""``clinlink label``, ``clinlink index build`` and ``clinlink similar``: report labels and retrieval."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from clinlink.cli.options import ID_COL, TEXT_COL, comma_list, resume_hint, text_columns
from clinlink.errors import ClinlinkError

app = typer.Typer()
index_app = typer.Typer(help="Build report indexes for similarity search.", no_args_is_help=True)
app.add_typer(index_app, name="index")
console = Console(soft_wrap=True)
err = Console(stderr=True)

PIPELINE = typer.Option("radiology", "--pipeline", "-p", help="Pipeline: a packaged name (clinical, radiology, phenotype) or a YAML path.")
BATCH = typer.Option(64, "--batch-size", help="Documents per nlp.pipe batch.")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=err,
    )


@app.command()
def label(
    reports: Path = typer.Argument(..., help="Report table: .csv, .parquet or .jsonl."),
    labels: str = typer.Option("chestxray14", "--labels", "-l", help="Label set: a packaged name (chestxray14, chexpert) or a YAML path."),
    output: Path = typer.Option(..., "--output", "-o", help="Label CSV to write."),
    id_col: str = ID_COL,
    text_col: list[str] = TEXT_COL,
    pipeline: str = PIPELINE,
    resume: bool = typer.Option(False, "--resume", help="Keep the rows already in OUTPUT and label only the rest."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUTPUT (and its errors file)."),
    errors: Path = typer.Option(None, "--errors", help="Failed reports as JSONL (default: OUTPUT.errors.jsonl)."),
    evidence: bool = typer.Option(True, "--evidence/--no-evidence", help="Write <label>_evidence columns."),
    historical: str = typer.Option("present", "--historical", help="Past findings count as: present, possible or exclude."),
    chunk_size: int = typer.Option(256, "--chunk-size", help="Reports per written chunk."),
    batch_size: int = BATCH,
) -> None:
    """Label reports (1 present, 0 absent, -1 possible, blank not mentioned) with evidence per label."""
    from clinlink.io.tables import LabelCsvWriter, append_errors, check_columns, count_rows, read_done_ids, read_reports
    from clinlink.similarity.jobs import label_columns, label_rows, labelling_pipeline, pipeline_kb
    from clinlink.similarity.labels import RuleLabeler, load_label_set

    errors = errors or output.with_name(output.name + ".errors.jsonl")
    if output.exists() and output.stat().st_size and not (resume or overwrite):
        raise ClinlinkError(f"{output} exists; pass --resume to continue it or --overwrite to replace it")
    if overwrite and not resume:
        output.unlink(missing_ok=True)
        errors.unlink(missing_ok=True)
    columns = text_columns(text_col)
    check_columns(reports, [id_col, *columns])
    total = count_rows(reports, id_col)
    with err.status("loading the pipeline and label set"):
        nlp = labelling_pipeline(pipeline, [labels])
        label_set = load_label_set(labels, pipeline_kb(nlp))
    labeler = RuleLabeler(label_set, historical=historical)
    header = label_columns(label_set, evidence)
    done = read_done_ids(output, header) if resume else set()
    writer = LabelCsvWriter(output, header)
    seen: set[str] = set(done)
    written = failed = 0
    started = time.perf_counter()
    with _progress() as progress, resume_hint(output):
        task = progress.add_task("labelling", total=total)
        for chunk in read_reports(reports, id_col, columns, chunk_size):
            todo, problems = [], []
            for report in chunk:
                if report.id in done:
                    continue
                if report.id in seen:
                    problems.append({"id": report.id, "error": "duplicate id: labelled once, later rows skipped"})
                    continue
                seen.add(report.id)
                todo.append(report)
            rows, chunk_errors = label_rows(nlp, labeler, todo, evidence, batch_size)
            writer.write_chunk(rows)
            append_errors(errors, problems + chunk_errors)
            written += len(rows)
            failed += len(problems) + len(chunk_errors)
            progress.advance(task, len(chunk))
    seconds = time.perf_counter() - started
    rate = written / seconds if seconds > 0 else 0.0
    console.print(
        f"[green]labelled[/] {written:,} reports ({rate:.1f}/s) into {output}"
        + (f"; kept {len(done):,} from the earlier run" if done else "")
        + (f"; [red]{failed:,} failed[/], see {errors}" if failed else "")
    )


@index_app.command("build")
def index_build(
    reports: Path = typer.Argument(..., help="Report table: .csv, .parquet or .jsonl."),
    output: Path = typer.Option(..., "--output", "-o", help="Index directory to write."),
    id_col: str = ID_COL,
    text_col: list[str] = TEXT_COL,
    pipeline: str = PIPELINE,
    preset: str = typer.Option("default", "--preset", help="Tversky settings preset (seed, default)."),
    phrases: str = typer.Option(
        "chestxray14", "--label-phrases", help="Label sets whose extra phrases the pipeline also finds ('' for none)."
    ),
    errors: Path = typer.Option(None, "--errors", help="Reports left out (duplicate ids) as JSONL (default: OUTPUT.errors.jsonl)."),
    batch_size: int = BATCH,
) -> None:
    """Index the concept sets of reports for `clinlink similar`; a repeated id keeps its first report (the others go to the errors file)."""
    from clinlink.io.tables import append_errors, check_columns, count_rows, read_reports
    from clinlink.similarity.concept_set import ConceptSet
    from clinlink.similarity.index import ReportIndex
    from clinlink.similarity.jobs import labelling_pipeline, pipeline_kb, pipeline_kb_spec

    columns = text_columns(text_col)
    check_columns(reports, [id_col, *columns])
    errors = errors or output.with_name(output.name + ".errors.jsonl")
    errors.unlink(missing_ok=True)
    total = count_rows(reports, id_col)
    label_sets = comma_list([phrases])
    with err.status("loading the pipeline"):
        nlp = labelling_pipeline(pipeline, label_sets)
    items, texts = [], {}
    seen: set[str] = set()
    duplicates: list[str] = []
    with _progress() as progress:
        task = progress.add_task("reading reports", total=total)
        for chunk in read_reports(reports, id_col, columns):
            todo = []
            for report in chunk:
                if report.id in seen:
                    append_errors(errors, [{"id": report.id, "error": "duplicate id: indexed once, later rows skipped"}])
                    duplicates.append(report.id)
                    continue
                seen.add(report.id)
                todo.append(report)
            for report, doc in zip(todo, nlp.pipe([r.text for r in todo], batch_size=batch_size)):
                items.append((report.id, ConceptSet.from_doc(doc)))
                texts[report.id] = report.text
            progress.advance(task, len(chunk))
    index = ReportIndex.build(items, kb=pipeline_kb(nlp), preset=preset, texts=texts)
    index.metadata = {"pipeline": pipeline, "label_phrases": label_sets, "kb": pipeline_kb_spec(nlp), "source": str(reports)}
    index.save(output)
    console.print(
        f"[green]indexed[/] {len(index):,} reports into {output}" + (
            f"; [red]{len(duplicates):,} duplicate ids left out[/] (first: {duplicates[0]!r}), see {errors}" if duplicates else ""
        )
    )


@app.command()
def similar(
    index_dir: Path = typer.Argument(..., help="Index directory from `clinlink index build`."),
    query: str = typer.Option(None, "--query", "-q", help="Report text to search with."),
    report_id: str = typer.Option(None, "--id", help="Id of an indexed report to search with."),
    k: int = typer.Option(10, "-k", help="Number of hits."),
    explain: bool = typer.Option(False, "--explain", help="Show what each hit shares with the query and what differs."),
    pipeline: str = typer.Option(None, "--pipeline", "-p", help="Pipeline for --query (default: the one that built the index)."),
) -> None:
    """The reports most similar to a text or an indexed report, by weighted Tversky similarity of their concepts."""
    from clinlink.kb.shared import shared_kb
    from clinlink.similarity.concept_set import ConceptSet
    from clinlink.similarity.index import ReportIndex

    if (query is None) == (report_id is None):
        raise ClinlinkError("give exactly one of --query TEXT or --id REPORT_ID")
    kb_spec = ReportIndex.read_metadata(index_dir).get("kb")
    kb = shared_kb(kb_spec) if kb_spec else None
    index = ReportIndex.load(index_dir, kb=kb)
    if report_id is not None:
        if report_id not in index:
            raise ClinlinkError(f"report {report_id!r} is not in the index {index_dir}")
        target = report_id
    else:
        from clinlink.similarity.jobs import labelling_pipeline

        nlp = labelling_pipeline(pipeline or index.metadata.get("pipeline", "radiology"), index.metadata.get("label_phrases", []))
        target = ConceptSet.from_doc(nlp(query))

    def name(concept_id: str) -> str:
        concept = kb.find(concept_id) if kb is not None else None
        return concept.name if concept is not None else concept_id

    query_set = index.concept_set(target) if isinstance(target, str) else target
    console.print("[bold]query concepts:[/] " + _describe_set(query_set, name), highlight=False)
    hits = index.query(target, k=k, text=query)
    if not hits:
        console.print("the index holds no other report")
    for rank, hit in enumerate(hits, start=1):
        lexical = f"  text {hit.lexical:.3f}" if index.texts is not None else ""
        console.print(f"[bold]{rank:>2}. {hit.id}[/]  similarity {hit.score:.3f}{lexical}", highlight=False)
        if explain:
            for line in hit.explanation.describe(name)[1:]:
                console.print(f"      {line}", highlight=False, markup=False)
        else:
            console.print("      " + _describe_set(hit.concept_set, name), highlight=False)


def _describe_set(concept_set, name) -> str:  # noqa: ANN001
    parts = [name(c) for c in sorted(concept_set.present, key=name)]
    parts += [f"possible {name(c)}" for c in sorted(concept_set.possible, key=name)]
    parts += [f"no {name(c)}" for c in sorted(concept_set.absent, key=name)]
    return "; ".join(parts) if parts else "(no concepts)"
