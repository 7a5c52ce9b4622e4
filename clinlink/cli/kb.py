"""``clinlink kb``: build, inspect and search the compiled knowledge base."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Column, Table

from clinlink.errors import KnowledgeBaseError
from clinlink.kb.compiled import build_kb, default_kb_dir, load_compiled, read_manifest, source_summary
from clinlink.kb.config import read_config
from clinlink.kb.search import NameSearch

app = typer.Typer(help="Build, inspect and search the compiled knowledge base.", no_args_is_help=True)
console = Console()

CONFIG = typer.Option(None, "--config", "-c", help="Ontology config: a name in ontologies/ or a YAML path (default: default).")
KB_DIR = typer.Option(None, "--kb", help="Compiled KB directory (default: the cache dir of the config).")


def _kb_dir(kb_dir: Path | None, config: str | None) -> Path:
    return kb_dir if kb_dir is not None else default_kb_dir(read_config(config).name)


@app.command()
def build(
    config: str = CONFIG,
    out: Path = typer.Option(None, "--out", "-o", help="Output directory (default: the user cache dir)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if no input changed."),
) -> None:
    """Compile the sources of an ontology config into a KB directory (skipped when up to date)."""
    started = time.perf_counter()
    path = build_kb(config, out, force=force)
    manifest = read_manifest(path)
    counts = manifest["counts"]
    console.print(
        f"[green]knowledge base ready[/] at {path}: {counts['concepts']:,} concepts, "
        f"{counts['names']:,} names ({time.perf_counter() - started:.1f} s)"
    )


@app.command()
def info(config: str = CONFIG, kb_dir: Path = KB_DIR) -> None:
    """Show the manifest of a compiled KB: sources, versions, checksums, counts, artifacts."""
    path = _kb_dir(kb_dir, config)
    manifest = read_manifest(path)
    console.print(f"[bold]{manifest['name']}[/] at {path} (built {manifest['built_at']}, {manifest['build_seconds']} s)")
    table = Table("source", "type", "version", "concepts", "file", "sha256")
    for source in source_summary(manifest):
        for file in source["files"]:
            table.add_row(source["name"], source["type"], str(source["version"]), f"{source['count']:,}", file["path"], file["sha256"][:16])
    console.print(table)
    console.print("counts: " + ", ".join(f"{k}={v:,}" for k, v in manifest["counts"].items()))
    console.print("artifacts: " + ", ".join(sorted(manifest.get("artifacts", {}))))


@app.command()
def search(
    text: str = typer.Argument(..., help="A name or phrase to look up."),
    k: int = typer.Option(10, "-k", help="How many concepts to list."),
    source: list[str] = typer.Option(None, "--source", "-s", help="Restrict to a vocabulary (HP, ICD10CM, ...); repeatable."),
    config: str = CONFIG,
    kb_dir: Path = KB_DIR,
) -> None:
    """Exact and fuzzy name search: prints id, name, source and score."""
    kb = _load(kb_dir, config)
    sources = [_source_prefix(s) for s in source] if source else None
    table = Table(Column("id", no_wrap=True), "name", "source", "score", "matched name")
    for match in NameSearch(kb, sources).search(text, k):
        table.add_row(match.concept_id, match.name, match.source, f"{match.score:.1f}", match.matched)
    console.print(table)


@app.command()
def show(
    concept_id: str = typer.Argument(..., help="A concept id, alt id or obsolete id, or a bare code: I50.23, 60046008, a UMLS CUI."),
    config: str = CONFIG,
    kb_dir: Path = KB_DIR,
) -> None:
    """Names, synonyms, semantic types, parents, children and cross-references of a concept."""
    kb = _load(kb_dir, config)
    found = kb.find_code(concept_id)
    if not found:
        raise KnowledgeBaseError(f"{concept_id!r} is not in the knowledge base (neither a concept id nor a code of one)")
    if len(found) > 1:
        console.print(f"[yellow]{concept_id} is a code of {len(found)} concepts: {', '.join(found)}[/]")
    for number, found_id in enumerate(found):
        if number:
            console.print()
        _show(kb, concept_id, found_id)


def _show(kb, asked: str, concept_id: str) -> None:  # noqa: ANN001
    concept = kb.get(concept_id)
    if concept.id != asked:
        console.print(f"[yellow]{asked} resolves to {concept.id}[/]")
    console.print(f"[bold]{concept.id}[/]  {concept.name}  [dim]({concept.source}; {', '.join(concept.semantic_types)}; group {concept.group})[/]")
    if concept.definition:
        console.print(f"definition: {concept.definition}")
    for synonym in concept.synonyms:
        console.print(f"  synonym [{synonym.kind}]: {synonym.name}")
    for key, values in kb.codes(concept.id).items():
        console.print(f"  {key}: {', '.join(values)}")
    chain = kb.parent_chain(concept.id)
    console.print("parent chain: " + " > ".join(f"{cid} {kb.get(cid).name}" for cid in chain))
    console.print("parents: " + "; ".join(f"{p} {kb.get(p).name}" for p in kb.parents(concept.id)))
    children = kb.children(concept.id)
    console.print(f"children ({len(children)}): " + "; ".join(f"{c} {kb.get(c).name}" for c in children[:20]))
    for key, values in concept.metadata.items():
        console.print(f"  {key}: {'; '.join(values)}")


def _source_prefix(name: str) -> str:
    return {"hpo": "HP", "icd10": "ICD10CM", "icd": "ICD10CM", "icd10cm": "ICD10CM", "snomed": "SNOMEDCT"}.get(name.lower(), name.upper())


def _load(kb_dir: Path | None, config: str | None):
    if kb_dir is not None:
        return load_compiled(kb_dir)
    ontology = read_config(config)
    return load_compiled(build_kb(ontology))
