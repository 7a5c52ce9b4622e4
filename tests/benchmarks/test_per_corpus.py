"""The benchmarks' per-corpus scoring and leave-one-corpus-out choice, on synthetic data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from hpo_data import read_genereviews, read_gscplus  # noqa: E402
from per_corpus import (  # noqa: E402
    POOLED,
    accuracy,
    beats_everywhere,
    choose,
    corpus_parts,
    leave_one_out,
    per_corpus,
    score_mentions,
)


def test_score_mentions_strict_overlap_and_document_levels():
    gold = [[(0, 5, "HP:1"), (10, 20, "HP:2"), (30, 35, "HP:2")]]
    predicted = [[(0, 5, "HP:1"), (12, 20, "HP:2"), (40, 45, "HP:3")]]
    figures = score_mentions(gold, predicted)
    assert (figures["strict_p"], figures["strict_r"]) == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert figures["overlap_r"] == pytest.approx(2 / 3)  # (10, 20) overlaps (12, 20) with the same concept
    assert (figures["doc_p"], figures["doc_r"]) == (pytest.approx(2 / 3), pytest.approx(1.0))  # {1, 2} of {1, 2, 3}
    assert figures["doc_f1"] == pytest.approx(0.8)
    assert (figures["docs"], figures["gold_mentions"], figures["predicted_mentions"]) == (1, 3, 3)


def test_score_mentions_resolves_ids_on_both_sides():
    resolve = {"HP:OLD": "HP:NEW"}.get
    figures = score_mentions([[(0, 3, "HP:OLD")]], [[(0, 3, "HP:NEW")]], lambda c: resolve(c) or c)
    assert figures["strict_f1"] == 1.0
    assert score_mentions([[(0, 3, "HP:OLD")]], [[(0, 3, "HP:NEW")]])["strict_f1"] == 0.0


def test_corpus_parts_keep_order_and_add_pooled():
    assert corpus_parts(["B", "A", "B"]) == {"B": [0, 2], "A": [1], POOLED: [0, 1, 2]}


def test_per_corpus_scores_each_corpus_apart_and_pooled():
    gold = [[(0, 1, "X")], [(0, 1, "Y")], [(0, 1, "Z")]]
    predicted = [[(0, 1, "X")], [(0, 1, "Y")], [(0, 1, "W")]]
    parts = per_corpus(["A", "A", "B"], gold, score_mentions, predicted)
    assert parts["A"]["strict_f1"] == 1.0
    assert parts["B"]["strict_f1"] == 0.0
    assert parts[POOLED]["strict_f1"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="2 items for 3 corpus labels"):
        per_corpus(["A", "A", "B"], gold[:2], score_mentions, predicted[:2])


def test_accuracy_at_1_and_5():
    ranked = [["a", "b"], ["x", "b", "c", "d", "e", "f"], [], ["a", "b", "c", "d", "e", "f"]]
    result = accuracy(ranked, ["a", "b", "a", "f"])
    assert result == {"acc@1": 0.25, "acc@5": 0.5, "n": 4}
    with pytest.raises(ValueError):
        accuracy(ranked, ["a"])


def grid(**by_setting):
    """{setting: {corpus: {"acc@1", "acc@5"}}} from setting=(acc@1 on A, on B, on H)."""
    return {
        setting: {c: {"acc@1": v, "acc@5": 0.9} for c, v in zip(("A", "B", "H"), values)}
        for setting, values in by_setting.items()
    }


def test_choose_breaks_ties_by_acc5_then_the_default_then_order():
    results = grid(s1=(0.5, 0, 0), s2=(0.5, 0, 0), s3=(0.4, 0, 0))
    assert choose(results, "A") == "s1"
    assert choose(results, "A", prefer="s2") == "s2"
    results["s1"]["A"]["acc@5"] = 0.95
    assert choose(results, "A", prefer="s2") == "s1"


def test_leave_one_out_reports_each_corpus_with_the_other_corpus_choice():
    results = grid(fits_a=(0.9, 0.5, 0.6), fits_b=(0.6, 0.8, 0.7))
    choices = {c.reported_on: c for c in leave_one_out(results, ["A", "B"])}
    assert (choices["A"].setting, choices["A"].chosen_on, choices["A"].figures["acc@1"]) == ("fits_b", "B", 0.6)
    assert (choices["B"].setting, choices["B"].chosen_on, choices["B"].figures["acc@1"]) == ("fits_a", "A", 0.5)


def test_leave_one_out_takes_two_corpora():
    results = grid(s1=(0.9, 0.1, 0.5))
    for corpora in (["A"], ["A", "B", "H"]):
        with pytest.raises(ValueError, match="two corpora"):
            leave_one_out(results, corpora)


def test_beats_everywhere_needs_a_gain_on_every_set():
    results = grid(default=(0.5, 0.5, 0.5), better=(0.6, 0.6, 0.6), mixed=(0.7, 0.4, 0.9), tied=(0.6, 0.5, 0.6))
    assert beats_everywhere(results, "better", "default", ["A", "B", "H"])
    assert not beats_everywhere(results, "mixed", "default", ["A", "B", "H"])
    assert not beats_everywhere(results, "tied", "default", ["A", "B", "H"])


def test_readers_label_each_document_with_its_corpus(tmp_path):
    gsc = tmp_path / "gsc.tsv"
    gsc.write_text("doc1\nShort stature and seizures.\n0\t13\tShort stature\tHP:0004322\n\n"
                   "doc2\nNo findings here.\n", encoding="utf-8")
    (tmp_path / "gr" / "corpus").mkdir(parents=True)
    (tmp_path / "gr" / "ann").mkdir()
    (tmp_path / "gr" / "corpus" / "a").write_text("Ataxia is common.", encoding="utf-8")
    (tmp_path / "gr" / "ann" / "a").write_text("0\t6\tAtaxia\tHP:0001251\n\n", encoding="utf-8")
    docs = read_gscplus(gsc) + read_genereviews(tmp_path / "gr")
    assert [(d.doc_id, d.corpus, len(d.mentions)) for d in docs] == [("doc1", "GSC+", 1), ("doc2", "GSC+", 0), ("a", "GeneReviews", 1)]
    parts = corpus_parts([d.corpus for d in docs])
    assert parts == {"GSC+": [0, 1], "GeneReviews": [2], POOLED: [0, 1, 2]}
