"""The coding benchmark's scoring, on codes written for this test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from coding import average_precision, score, without_placeholders  # noqa: E402


@pytest.mark.parametrize(
    ("written", "code"),
    [("S22.31X", "S22.31"), ("W19.XXX", "W19"), ("t81.4xx", "T81.4"), ("T48.3X1", "T48.3X1"), ("X58.XXX", "X58"), ("R69", "R69")],
)
def test_gold_codes_are_read_without_placeholder_xs(written, code):
    assert without_placeholders(written) == code


def test_micro_scores_at_the_code_and_the_category_and_map():
    result = score([["R31.9", "E11.9", "I10"]], [{"R31.9", "E11.40"}])
    assert (result["p"], result["r"]) == (pytest.approx(1 / 3), pytest.approx(1 / 2))
    assert (result["cat_p"], result["cat_r"]) == (pytest.approx(2 / 3), pytest.approx(1.0))
    assert result["map"] == pytest.approx(average_precision(["R31.9", "E11.9", "I10"], {"R31.9", "E11.40"})) == pytest.approx(0.5)
