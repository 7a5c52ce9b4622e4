"""Fixtures for batch annotation: a fast pipeline over the fixture KB, note folders, the CLI."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinlink.cli.main import app

PIPELINE_YAML = """\
name: batch-test
lang: en
kb: {kb}
components:
  - name: segmenter
    factory: clinlink_segmenter
  - name: abbreviations
    factory: abbreviation_detector
    config: {{make_serializable: true}}
  - name: ner
    factory: clinlink_ner
  - name: context
    factory: clinlink_context
"""

# Synthetic notes: each mentions fixture-KB concepts (pleural effusion, chylothorax, heart enlargement).
NOTES = {
    "cxr/report1.txt": "FINDINGS: Small pleural effusion on the right. No chylothorax.\n\nIMPRESSION: Pleural effusion.\n",
    "cxr/report2.txt": "FINDINGS: Heart enlargement. No pleural effusion.\n",
    "clinic/visit.txt": "HISTORY OF PRESENT ILLNESS: Follow-up of chylothorax.\nFAMILY HISTORY: Mother had heart enlargement.\n",
    "short.txt": "Fluid in the pleural space.",
}


@pytest.fixture(scope="session")
def test_pipeline(fixture_kb, tmp_path_factory) -> Path:
    """A pipeline YAML (segmenter, abbreviations, NER, ConText) over the fixture KB: loads in about a second."""
    path = tmp_path_factory.mktemp("pipeline") / "batch-test.yaml"
    path.write_text(PIPELINE_YAML.format(kb=fixture_kb.path), encoding="utf-8")
    return path


def write_notes(folder: Path, notes: dict[str, str | bytes]) -> Path:
    for name, content in notes.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


@pytest.fixture()
def notes_dir(tmp_path) -> Path:
    return write_notes(tmp_path / "notes", NOTES)


@pytest.fixture()
def cli():
    """Runs ``clinlink ARGS...`` in this process (the pipeline cache is shared across calls)."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(arg) for arg in args], catch_exceptions=False)

    return invoke


@pytest.fixture()
def socket_guard(monkeypatch) -> list[str]:
    """Every attempt to open a network connection fails and is recorded (even if the caller swallows the error)."""
    attempts: list[str] = []

    def refuse(name):
        def blocked(*args, **kwargs):
            attempts.append(f"{name}{args[1:2] or args[:1]}")
            raise ConnectionRefusedError(f"network access in an offline test: {name}")

        return blocked

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    return attempts


def read_records(out: Path) -> list[dict]:
    """Every document record of a JSONL output folder, from its committed shards."""
    import json

    from clinlink.io.shards import OutputFolder

    return [json.loads(line) for path in OutputFolder(out, "jsonl").shard_files() for line in path.read_text(encoding="utf-8").splitlines()]


def read_errors(out: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in (out / "errors.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="session")
def sample_notes() -> dict[str, str]:
    """File name -> text of the synthetic notes in ``notes_dir``."""
    return dict(NOTES)


@pytest.fixture(scope="session")
def records_of():
    return read_records


@pytest.fixture(scope="session")
def errors_of():
    return read_errors


@pytest.fixture(scope="session")
def make_notes():
    return write_notes


RUN_CLI = "import sys; from clinlink.cli.main import run; sys.argv[0] = 'clinlink'; run()"


@pytest.fixture()
def start_annotate():
    """Starts ``clinlink annotate ARGS...`` in a subprocess writing into ``out``; returns it once
    ``commits`` shards are committed (or it ended, or 180 s passed). The caller kills it."""

    def start(out: Path, *args: str, commits: int = 3) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", RUN_CLI, "annotate", *map(str, args), "-o", str(out)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            if (out / "_shards").is_dir() and len(list((out / "_shards").glob("part-*.json"))) >= commits:
                break
            time.sleep(0.01)
        return process

    return start
