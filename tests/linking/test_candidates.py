import pytest

from clinlink.linking.candidates import group_rows, merge, rank
from clinlink.linking.names import NameTable

import numpy as np

TABLE = NameTable(["Alpha", "Alpha syn", "Beta", "Gamma"], ["X:A", "X:A", "X:B", "X:C"])


def test_group_rows_keeps_the_best_name_per_concept_and_honours_exclusions():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    rows = np.array([1, 0, 2, 3])
    assert group_rows(scores, rows, TABLE, k=2) == {"X:A": (0.9, 1), "X:B": (0.7, 2)}
    assert group_rows(scores, rows, TABLE, k=2, exclude={1}) == {"X:A": (0.8, 0), "X:B": (0.7, 2)}


def test_weighted_sum_fills_the_missing_component_exactly():
    dense = {"X:A": (0.8, 0), "X:B": (0.6, 2)}
    sparse = {"X:B": (0.9, 2), "X:C": (0.5, 3)}
    merged = merge(dense, sparse, {"X:C": (0.2, 3)}, {"X:A": (0.1, 1)}, weight=0.6, method="sum")
    assert merged["X:A"][:3] == pytest.approx((0.6 * 0.8 + 0.4 * 0.1, 0.8, 0.1))
    assert merged["X:B"][:3] == pytest.approx((0.6 * 0.6 + 0.4 * 0.9, 0.6, 0.9))
    assert merged["X:C"][:3] == pytest.approx((0.6 * 0.2 + 0.4 * 0.5, 0.2, 0.5))
    assert merged["X:B"][4] == "dense+sparse" and merged["X:A"][4] == "dense" and merged["X:C"][4] == "sparse"


def test_weighted_max():
    merged = merge({"X:A": (0.5, 0)}, {"X:A": (0.9, 1)}, weight=0.7, method="max")
    score, dense, sparse, row, _ = merged["X:A"]
    assert score == pytest.approx(max(0.7 * 0.5, 0.3 * 0.9))
    assert row == 0  # the dense side won (0.35 > 0.27)


def test_single_retriever_scores_pass_through():
    assert merge({"X:A": (0.7, 0)}, None)["X:A"] == (0.7, 0.7, None, 0, "dense")
    assert merge(None, {"X:A": (0.7, 0)})["X:A"] == (0.7, None, 0.7, 0, "sparse")
    with pytest.raises(ValueError):
        merge({}, {}, method="mean")


def test_rank_puts_exact_names_first_with_score_one():
    merged = {"X:A": (0.9, 0.9, 0.9, 0, "dense+sparse"), "X:B": (0.5, 0.5, 0.5, 2, "dense+sparse")}
    ranked = rank(merged, {"X:B"}, TABLE, lambda c: f"name of {c}", k=5)
    assert [c.concept_id for c in ranked] == ["X:B", "X:A"]
    assert ranked[0].score == 1.0 and ranked[0].exact and ranked[0].matched_name == "Beta"
    assert ranked[1].name == "name of X:A" and ranked[1].as_list() == ["X:A", "name of X:A", 0.9]
    assert len(rank(merged, set(), TABLE, str, k=1)) == 1
