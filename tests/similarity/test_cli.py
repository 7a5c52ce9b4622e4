"""`clinlink label` / `index build` / `similar` on a tiny synthetic table with a KB-free pipeline."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from typer.testing import CliRunner

from clinlink.cli.main import app

PIPELINE = """
name: tiny
lang: en
components:
  - name: segmenter
    factory: clinlink_segmenter
  - name: context
    factory: clinlink_context
"""
LABELS = """
name: tiny
labels:
  - name: Effusion
    concepts: [X:EFF]
    phrases: [pleural effusion, effusion]
  - name: Pneumothorax
    concepts: [X:PTX]
    phrases: [pneumothorax]
  - name: Cardiomegaly
    concepts: [X:CARD]
    phrases: [cardiomegaly, heart size * enlarged]
normal:
  name: normal
  scope: labels
"""
REPORTS = [
    ("r1", "Small left pleural effusion.", "Effusion. No pneumothorax."),
    ("r2", "No pleural effusion or pneumothorax.", "Normal chest."),
    ("r3", "Heart size is mildly enlarged.", "Possible small effusion."),
    ("r4", "", ""),
    ("r5", "Large right pneumothorax.", "Pneumothorax."),
    ("r6", "Lungs are clear.", "No acute disease."),
    ("r7", "Cardiomegaly. Trace effusion cannot be excluded.", ""),
    ("r8", "No cardiomegaly.", "Clear lungs."),
]


@pytest.fixture()
def workspace(tmp_path):
    (tmp_path / "tiny.yaml").write_text(PIPELINE)
    (tmp_path / "labels.yaml").write_text(LABELS)
    pd.DataFrame(REPORTS, columns=["uid", "findings", "impression"]).to_csv(tmp_path / "reports.csv", index=False)
    return tmp_path


def run_label(workspace, output, *extra):
    args = [
        "label", str(workspace / "reports.csv"), "--labels", str(workspace / "labels.yaml"),
        "--pipeline", str(workspace / "tiny.yaml"), "--id-col", "uid", "--text-col", "findings,impression",
        "-o", str(output), "--chunk-size", "3", *extra,
    ]
    return CliRunner().invoke(app, args)


def read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_label_values_and_evidence(workspace):
    output = workspace / "labels.csv"
    result = run_label(workspace, output)
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in read(output)}
    assert list(rows) == [r[0] for r in REPORTS]
    assert (rows["r1"]["Effusion"], rows["r1"]["Pneumothorax"], rows["r1"]["normal"]) == ("1", "0", "0")
    assert (rows["r2"]["Effusion"], rows["r2"]["Pneumothorax"], rows["r2"]["Cardiomegaly"], rows["r2"]["normal"]) == ("0", "0", "", "1")
    assert (rows["r3"]["Cardiomegaly"], rows["r3"]["Effusion"]) == ("1", "-1")
    assert rows["r3"]["Effusion_evidence"].startswith("effusion [possible")
    assert (rows["r4"]["Effusion"], rows["r4"]["normal"]) == ("", "1")
    assert (rows["r7"]["Cardiomegaly"], rows["r7"]["Effusion"]) == ("1", "-1")
    assert rows["r8"]["Cardiomegaly"] == "0"
    assert "No pleural effusion or pneumothorax." in rows["r2"]["Effusion_evidence"]
    # a second run refuses to overwrite without --resume or --overwrite
    again = run_label(workspace, output)
    assert again.exit_code == 1 and "--resume" in again.output


def test_resume_after_an_interrupted_run_loses_and_repeats_nothing(workspace):
    complete = workspace / "complete.csv"
    assert run_label(workspace, complete).exit_code == 0
    lines = complete.read_text().splitlines(keepends=True)
    interrupted = workspace / "interrupted.csv"
    # a run killed in the middle of a chunk: four rows written, the fifth cut short
    interrupted.write_text("".join(lines[:5]) + lines[5][: len(lines[5]) // 2])
    result = run_label(workspace, interrupted, "--resume")
    assert result.exit_code == 0, result.output
    assert "kept 4" in result.output
    assert interrupted.read_text() == complete.read_text()


def test_index_build_and_similar(workspace):
    index_dir = workspace / "idx"
    result = CliRunner().invoke(
        app,
        [
            "index", "build", str(workspace / "reports.csv"), "-o", str(index_dir), "--pipeline", str(workspace / "tiny.yaml"),
            "--label-phrases", str(workspace / "labels.yaml"), "--id-col", "uid", "--text-col", "findings,impression",
        ],
    )
    assert result.exit_code == 0, result.output
    # r1: effusion, no pneumothorax. r3 and r7 have cardiomegaly and a possible effusion:
    # I = 0.5 * (1 * 0.5 + 0.5 * 1), F = 0.5, B = 1 -> 0.5 / (0.5 + 0.75) = 0.4; r5's pneumothorax contradicts r1
    result = CliRunner().invoke(app, ["similar", str(index_dir), "--id", "r1", "-k", "3", "--explain"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "query concepts: X:EFF; no X:PTX"
    hits = [line.split()[1:4] for line in lines if line.strip()[:2] in ("1.", "2.", "3.")]
    # k hits always: r2 shares no concept with r1 but the most words ("pleural effusion", "no pneumothorax")
    assert hits == [["r3", "similarity", "0.400"], ["r7", "similarity", "0.400"], ["r2", "similarity", "0.000"]]
    assert "similarity 0.400" in result.output
    assert "only in report   X:CARD [present]  -1.00" in result.output
    by_text = CliRunner().invoke(app, ["similar", str(index_dir), "--query", "Large pneumothorax.", "-k", "1"])
    assert by_text.exit_code == 0, by_text.output
    assert " 1. r5  similarity 1.000" in by_text.output
    missing = CliRunner().invoke(app, ["similar", str(index_dir), "--id", "nope"])
    assert missing.exit_code == 1 and "not in the index" in missing.output
