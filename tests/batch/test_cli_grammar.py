"""One CLI grammar: the same options read the same way in annotate, label and index build; every bad input is
one line naming the file, column or id with exit code 1; duplicates go to the errors file; Ctrl-C says how to
resume; Dask's logging stays quiet unless -v."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from clinlink.cli.main import app
from tests.batch.conftest import RUN_CLI
from tests.similarity.test_cli import LABELS, PIPELINE as KB_FREE_PIPELINE

TABLE = [
    ("r1", "No pleural effusion.", "Chylothorax."),
    ("r2", "Heart enlargement.", ""),
    ("r1", "A second report with the id r1.", "Pleural effusion."),
]


@pytest.fixture()
def reports(tmp_path):
    path = tmp_path / "reports.csv"
    pd.DataFrame(TABLE, columns=["uid", "findings", "impression"]).to_csv(path, index=False)
    (tmp_path / "tiny.yaml").write_text(KB_FREE_PIPELINE, encoding="utf-8")
    (tmp_path / "labels.yaml").write_text(LABELS, encoding="utf-8")
    return path


def commands(reports, test_pipeline, out):
    """Each table command with its own output under ``out`` (annotate, label, index build)."""
    folder = reports.parent
    return {
        "annotate": ["annotate", reports, "-o", out / "annotate", "--pipeline", test_pipeline],
        "label": ["label", reports, "-o", out / "labels.csv", "--pipeline", folder / "tiny.yaml", "--labels", folder / "labels.yaml"],
        "index build": ["index", "build", reports, "-o", out / "index", "--pipeline", test_pipeline, "--label-phrases", ""],
    }


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    message = " ".join(result.output.split())
    assert message.startswith("error: ") and message.count("error:") == 1
    return message


@pytest.mark.parametrize("command", ["annotate", "label", "index build"])
def test_text_col_commas_and_repeats_read_the_same(cli, reports, test_pipeline, tmp_path, command, records_of):
    outputs = []
    for name, text_cols in (("commas", ["--text-col", "findings,impression"]), ("repeated", ["--text-col", "findings", "--text-col", "impression"])):
        out = tmp_path / name
        result = cli(*commands(reports, test_pipeline, out)[command], "--id-col", "uid", *text_cols)
        assert result.exit_code == 0, result.output
        if command == "annotate":
            outputs.append(records_of(out / "annotate"))
        elif command == "label":
            outputs.append((out / "labels.csv").read_text(encoding="utf-8"))
        else:
            outputs.append([json.loads(line) for line in (out / "index" / "reports.jsonl").read_text(encoding="utf-8").splitlines()])
    assert outputs[0] == outputs[1]
    if command == "annotate":
        assert outputs[0][0]["text"] == "FINDINGS: No pleural effusion.\n\nIMPRESSION: Chylothorax."


@pytest.mark.parametrize("command", ["annotate", "label", "index build"])
def test_wrong_id_column_names_the_file_and_column(cli, reports, test_pipeline, tmp_path, command):
    message = one_line_error(cli(*commands(reports, test_pipeline, tmp_path)[command], "--id-col", "note_id", "--text-col", "findings"))
    assert f"{reports}: no column 'note_id'; columns: uid, findings, impression" in message


@pytest.mark.parametrize("command", ["annotate", "label", "index build"])
def test_wrong_text_column_names_the_file_and_column(cli, reports, test_pipeline, tmp_path, command):
    message = one_line_error(cli(*commands(reports, test_pipeline, tmp_path)[command], "--id-col", "uid", "--text-col", "findings,summary"))
    assert f"{reports}: no column 'summary'" in message


@pytest.mark.parametrize("command", ["annotate", "label", "index build"])
def test_missing_input_names_the_file(cli, reports, test_pipeline, tmp_path, command):
    args = commands(reports, test_pipeline, tmp_path)[command]
    missing = tmp_path / "nowhere.csv"
    args[args.index(reports)] = missing
    message = one_line_error(cli(*args, "--id-col", "uid"))
    assert f"{missing}: no such file" in message


@pytest.mark.parametrize("command", ["annotate", "label", "index build"])
def test_duplicate_ids_go_to_the_errors_file(cli, reports, test_pipeline, tmp_path, command):
    result = cli(*commands(reports, test_pipeline, tmp_path)[command], "--id-col", "uid", "--text-col", "findings")
    assert result.exit_code == 0, result.output
    errors_file = {"annotate": tmp_path / "annotate" / "errors.jsonl", "label": tmp_path / "labels.csv.errors.jsonl",
                   "index build": tmp_path / "index.errors.jsonl"}[command]
    [error] = [json.loads(line) for line in errors_file.read_text(encoding="utf-8").splitlines()]
    assert error["id"] == "r1" and "duplicate id" in (error.get("reason") or error.get("error"))
    if command == "index build":
        assert [json.loads(line)["id"] for line in (tmp_path / "index" / "reports.jsonl").read_text().splitlines()] == ["r1", "r2"]
        assert "1 duplicate ids left out (first: 'r1')" in " ".join(result.output.split())


def test_every_table_command_documents_the_same_grammar():
    runner = CliRunner()
    helps = {name: " ".join(runner.invoke(app, [*name.split(), "--help"], env={"COLUMNS": "300"}).output.split())
             for name in ("annotate", "label", "index build")}
    for text in helps.values():
        assert "--text-col" in text and "repeat the option or separate names with commas" in text
        assert "--id-col" in text and "Table column holding the note / report id" in text


def test_an_interrupted_run_says_how_to_resume(tmp_path, test_pipeline, make_notes, sample_notes):
    notes = make_notes(tmp_path / "notes", {f"n{i:04d}.txt": text for i, text in enumerate(list(sample_notes.values()) * 300)})
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, "annotate", str(notes), "-o", str(out), "--pipeline", str(test_pipeline), "--shard-size", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a suite started in the background ignores Ctrl-C
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list((out / "_shards").glob("part-*.json")):
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert f"interrupted: what was committed is kept; run the same command again with --resume to continue (-o {out})" in " ".join(stderr.split())
    assert "Traceback" not in stderr


def test_dask_logging_is_quiet_unless_verbose(tmp_path, test_pipeline, make_notes):
    notes = make_notes(tmp_path / "notes", {"a.txt": "No pleural effusion.", "b.txt": "Chylothorax."})
    stderr = {}
    for flag in ("", "-v"):
        args = [flag] if flag else []
        run = subprocess.run(
            [sys.executable, "-c", RUN_CLI, *args, "annotate", str(notes), "-o", str(tmp_path / f"out{flag}"), "--pipeline", str(test_pipeline),
             "--engine", "dask", "--workers", "1"],
            capture_output=True, text=True, timeout=300,
        )
        assert run.returncode == 0, run.stderr
        stderr[flag] = run.stderr
    assert "distributed" not in stderr[""]
    assert "INFO distributed.scheduler" in stderr["-v"]
