"""The output folder of a batch run: shards, their commit records, ``errors.jsonl``.

A shard is committed when its record ``_shards/<shard>.json`` exists: written after the
shard's files, it lists the notes (id, origin) the shard holds and the notes that failed.
``--resume`` trusts only committed shards; files of an uncommitted shard are removed
and its notes annotated again, so no note is lost and none is written twice.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinlink.errors import ClinlinkError
from clinlink.io.writers import WRITERS, WriterOptions, atomic_write_text

COMMITS_DIR = "_shards"
ERRORS_FILE = "errors.jsonl"
SHARD_PREFIX = "part-"
_SHARD_FILE = re.compile(r"^part-(\d+)(\.\w+)$")


@dataclass
class ResumeState:
    """What earlier runs committed: origins to skip, ids already used, the next shard number."""

    done_origins: set[str] = field(default_factory=set)
    seen_ids: set[str] = field(default_factory=set)
    next_shard: int = 0
    committed_notes: int = 0
    committed_errors: int = 0


def shard_name(index: int) -> str:
    return f"{SHARD_PREFIX}{index:05d}"


class OutputFolder:
    """Where a run writes; checks it can, and knows what earlier runs committed."""

    def __init__(self, path: Path, fmt: str, options: WriterOptions = WriterOptions()):
        if fmt not in WRITERS:
            raise ClinlinkError(f"unknown output format {fmt!r}; choose one of {', '.join(WRITERS)}")
        self.path = path
        self.fmt = fmt
        self.options = options

    @property
    def commits(self) -> Path:
        return self.path / COMMITS_DIR

    def prepare(self, resume: bool) -> ResumeState:
        """Creates the folder (or checks it may be continued), checks the format's options and returns the resume state."""
        WRITERS[self.fmt].prepare(self.options)
        self._check_writable()
        records = self.commit_records()
        if not resume:
            if records or self._shard_files_on_disk():
                raise ClinlinkError(f"{self.path}: already holds annotations; pass --resume to continue that run, or choose an empty folder")
            return ResumeState()
        state = ResumeState()
        highest = -1
        for name, record in records.items():
            if record.get("format") != self.fmt:
                raise ClinlinkError(f"{self.path}: was written as {record.get('format')!r}, not {self.fmt!r}; resume with --format {record.get('format')}")
            highest = max(highest, int(name[len(SHARD_PREFIX):]))
            for note_id, origin in record["notes"]:
                state.done_origins.add(origin)
                state.seen_ids.add(note_id)
                state.committed_notes += 1
            for error in record["errors"]:  # a note that failed still uses its id, as in an uninterrupted run
                state.done_origins.add(error["origin"])
                state.seen_ids.add(error["id"])
                state.committed_errors += 1
        highest = max([highest, *self._remove_uncommitted(set(records))])
        state.next_shard = highest + 1
        return state

    def commit_records(self) -> dict[str, dict[str, Any]]:
        """Shard name -> commit record, for every committed shard."""
        records = {}
        if self.commits.is_dir():
            for path in sorted(self.commits.glob(f"{SHARD_PREFIX}*.json")):
                try:
                    records[path.stem] = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError) as error:
                    raise ClinlinkError(f"{path}: unreadable commit record ({error}); remove it and its shard to re-annotate those notes") from None
        return records

    def commit(self, shard: str, files: list[Path], notes: list[tuple[str, str]], errors: list[dict[str, str]]) -> None:
        """Records the shard as complete; call after its files are in place."""
        record = {
            "format": self.fmt,
            "files": [str(path.relative_to(self.path)) for path in files],
            "notes": [list(note) for note in notes],
            "errors": errors,
        }
        atomic_write_text(self.commits / f"{shard}.json", json.dumps(record, ensure_ascii=False))

    def write_errors(self) -> Path:
        """``errors.jsonl``: every committed error (id, origin, reason), rebuilt from the commit records."""
        lines = [json.dumps(error, ensure_ascii=False) for record in self.commit_records().values() for error in record["errors"]]
        return atomic_write_text(self.path / ERRORS_FILE, "".join(line + "\n" for line in lines))

    def shard_files(self) -> list[Path]:
        """Committed data files, in shard order."""
        return [self.path / name for record in self.commit_records().values() for name in record["files"]]

    def _check_writable(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / f".write-test-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise ClinlinkError(f"{self.path}: cannot write output here ({error.strerror or error})") from None

    def _shard_files_on_disk(self) -> dict[Path, int]:
        """Shard data files of this format (BRAT has none: its files are named by note id)."""
        writer = WRITERS[self.fmt]
        if self.fmt == "brat":
            return {}
        found = {}
        for folder in writer.folders:
            for path in (self.path / folder).glob(f"{SHARD_PREFIX}*{writer.suffix}"):
                match = _SHARD_FILE.match(path.name)
                if match and match.group(2) == writer.suffix:
                    found[path] = int(match.group(1))
        return found

    def _remove_uncommitted(self, committed: set[str]) -> list[int]:
        """Deletes temporary files and shard files without a commit record; returns their numbers."""
        for temporary in self.path.rglob(".*.tmp-*"):
            temporary.unlink(missing_ok=True)
        numbers = []
        for path, number in self._shard_files_on_disk().items():
            if path.stem not in committed:
                numbers.append(number)
                path.unlink(missing_ok=True)
        return numbers
