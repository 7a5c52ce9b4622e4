"""The coding cross-validation's split, on ids written for this test."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from coding_cv import halves  # noqa: E402


def test_halves_are_disjoint_cover_the_split_and_do_not_depend_on_order():
    ids = [f"S{n:03d}" for n in range(7)]
    first, second = halves(ids)
    assert sorted(first + second) == ids and not set(first) & set(second)
    assert (first, second) == halves(list(reversed(ids)))
    assert first == ["S000", "S002", "S004", "S006"]  # alternate: each half spans the split
