"""The ``clinlink`` command: one Typer app, one module per command group."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from clinlink.cli import kb
from clinlink.errors import ClinlinkError

app = typer.Typer(
    name="clinlink",
    help="Clinical free text to ontology concepts (HPO, ICD-10-CM, UMLS, SNOMED CT), fully offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(kb.app, name="kb")

err = Console(stderr=True)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details to stderr.")) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def run() -> None:
    """Entry point: clinlink errors print one clear line and exit 1, never a traceback."""
    try:
        app()
    except ClinlinkError as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False)
        sys.exit(1)
