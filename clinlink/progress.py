"""Progress of the long, one-time steps (compiling the KB, building indexes) on stderr.

Each step prints what it does and, when it ends, how long it took; a step with a known size shows a
progress bar on a terminal and a line every 10 % elsewhere (logs, CI). ``CLINLINK_QUIET=1`` silences them.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

QUIET_ENV = "CLINLINK_QUIET"

Advance = Callable[[int], None]


def enabled() -> bool:
    return os.environ.get(QUIET_ENV, "").strip().lower() not in ("1", "true", "yes")


@contextmanager
def step(description: str, total: int | None = None) -> Iterator[Advance]:
    """Report ``description`` while the block runs; yields ``advance(n)`` for steps of ``total`` units."""
    if not enabled():
        yield lambda n: None
        return
    started = time.perf_counter()
    if total and sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        columns = (TextColumn("clinlink: {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True)) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)
        return
    _line(f"{description}...")
    done = 0
    next_report = 0.1

    def advance(n: int) -> None:
        nonlocal done, next_report
        done += n
        if total and done / total >= next_report and done < total:
            _line(f"{description}: {done:,}/{total:,} ({time.perf_counter() - started:.0f} s)")
            next_report = done / total + 0.1

    yield advance
    _line(f"{description}: done in {time.perf_counter() - started:.1f} s")


def _line(text: str) -> None:
    print(f"clinlink: {text}", file=sys.stderr, flush=True)
