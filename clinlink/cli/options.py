"""Options every command spells and reads the same way (one grammar for the whole CLI)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

from clinlink.errors import ClinlinkError

ID_COL = typer.Option("id", "--id-col", help="Table column holding the note / report id.")
TEXT_COL = typer.Option(
    ["text"], "--text-col", help="Table column(s) holding the text: repeat the option or separate names with commas; several are joined as sections."
)
RESUME_HINT = "interrupted: what was committed is kept; run the same command again with --resume to continue"
INTERRUPTED = 130  # exit code of a run stopped by Ctrl-C (128 + SIGINT)


def text_columns(values: Iterable[str]) -> list[str]:
    """``--text-col a,b`` and ``--text-col a --text-col b`` both give ``[a, b]``."""
    columns = comma_list(values)
    if not columns:
        raise ClinlinkError("--text-col names no column")
    return list(dict.fromkeys(columns))


def comma_list(values: Iterable[str]) -> list[str]:
    """Repeated and comma-separated values of a list option, in order, without blanks."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


@contextmanager
def resume_hint(output: Path) -> Iterator[None]:
    """Ctrl-C during a resumable run: one line saying how to continue (exit 130), never a traceback."""
    try:
        yield
    except KeyboardInterrupt:
        Console(stderr=True).print(f"{RESUME_HINT} (-o {output})", highlight=False, soft_wrap=True)
        raise typer.Exit(INTERRUPTED) from None
