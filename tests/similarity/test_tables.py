"""Reading report tables (CSV, Parquet, JSONL) and the label CSV's crash-safe appends."""

from __future__ import annotations

import pandas as pd
import pytest

from clinlink.errors import SourceFormatError
from clinlink.io.tables import LabelCsvWriter, count_rows, read_done_ids, read_reports

FRAME = pd.DataFrame({"uid": [1, 2, 3], "findings": ["Clear lungs.", "", "Small effusion."], "impression": ["Normal.", "No change.", ""]})


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_read_reports_in_every_format(tmp_path, suffix):
    path = tmp_path / f"reports{suffix}"
    if suffix == ".csv":
        FRAME.to_csv(path, index=False)
    elif suffix == ".parquet":
        FRAME.to_parquet(path)
    else:
        FRAME.to_json(path, orient="records", lines=True)
    chunks = list(read_reports(path, "uid", ["findings", "impression"], chunk_size=2))
    assert [len(c) for c in chunks] == [2, 1]
    reports = [r for chunk in chunks for r in chunk]
    assert [r.id for r in reports] == ["1", "2", "3"]
    assert reports[0].text == "FINDINGS: Clear lungs.\n\nIMPRESSION: Normal."
    assert reports[1].text == "IMPRESSION: No change."
    assert [r.text for r in next(read_reports(path, "uid", ["findings"]))] == ["Clear lungs.", "", "Small effusion."]
    assert count_rows(path, "uid") == 3


def test_bad_tables_name_the_file(tmp_path):
    path = tmp_path / "reports.csv"
    FRAME.to_csv(path, index=False)
    with pytest.raises(SourceFormatError, match=r"reports\.csv: no column 'text'"):
        next(read_reports(path, "uid", ["text"]))
    with pytest.raises(SourceFormatError, match="no such file"):
        next(read_reports(tmp_path / "missing.csv", "uid", ["text"]))
    with pytest.raises(SourceFormatError, match="unsupported table format"):
        (tmp_path / "r.xlsx").write_text("x")
        next(read_reports(tmp_path / "r.xlsx", "uid", ["text"]))


def test_label_csv_rows_stay_on_one_line_and_torn_lines_are_cut(tmp_path):
    path = tmp_path / "labels.csv"
    writer = LabelCsvWriter(path, ["id", "A", "A_evidence"])
    writer.write_chunk([["r1", 1, 'effusion [present] "Small\neffusion, left."'], ["r2", None, ""]])
    assert path.read_text().splitlines() == ["id,A,A_evidence", 'r1,1,"effusion [present] ""Small effusion, left."""', "r2,,"]
    with open(path, "a") as handle:
        handle.write("r3,0,half a li")
    assert read_done_ids(path, ["id", "A", "A_evidence"]) == {"r1", "r2"}
    assert path.read_text().endswith("r2,,\n")
    with pytest.raises(SourceFormatError, match="columns differ"):
        read_done_ids(path, ["id", "B"])
