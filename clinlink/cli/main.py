"""The ``clinlink`` command: one Typer app, one module per command group."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from clinlink.cli import annotate, kb, serve, similar, train
from clinlink.errors import ClinlinkError

err = Console(stderr=True)


def report(error: ClinlinkError) -> None:
    err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)


class ClinlinkGroup(TyperGroup):
    """Any command's :class:`ClinlinkError` becomes one line on stderr and exit code 1."""

    def invoke(self, ctx):  # noqa: ANN001, ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except ClinlinkError as error:
            report(error)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=ClinlinkGroup,
    name="clinlink",
    help="Clinical free text to ontology concepts (HPO, ICD-10-CM, UMLS, SNOMED CT), fully offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(kb.app, name="kb")
app.add_typer(annotate.app)  # annotate, render
app.add_typer(train.app, name="train")
app.add_typer(similar.app)  # label, index build, similar
app.add_typer(serve.app)  # serve


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details to stderr.")) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def run() -> None:
    """Entry point: clinlink errors print one clear line and exit 1, never a traceback."""
    try:
        app()
    except ClinlinkError as error:
        report(error)
        sys.exit(1)


if __name__ == "__main__":
    run()
