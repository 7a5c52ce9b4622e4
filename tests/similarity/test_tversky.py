"""The Tversky arithmetic, pinned on hand-worked examples over the tiny KB."""

from __future__ import annotations

import math

import pytest

from clinlink.errors import ConfigError
from clinlink.similarity import ConceptSet, TverskyParams, explain, tversky


def cs(present=(), absent=(), possible=()) -> ConceptSet:
    return ConceptSet.of(present, absent, possible)


def test_exact_matches_count_once_per_side(tiny_kb):
    # I = 1 (pleural effusion), F = 1 (cardiomegaly), B = 1 (scoliosis): 1 / (1 + 0.5 * 2)
    assert tversky(cs(["HP:3", "HP:6"]), cs(["HP:3", "HP:9"]), tiny_kb) == pytest.approx(0.5)


def test_without_kb_ids_match_only_exactly():
    assert tversky(cs(["HP:3"]), cs(["ICD:J90"])) == 0.0
    assert tversky(cs(["A", "B"]), cs(["A", "B"])) == 1.0


def test_shared_cui_is_a_synonym(tiny_kb):
    assert tversky(cs(["HP:3"]), cs(["ICD:J90"]), tiny_kb) == 1.0
    shared = explain(cs(["HP:6"]), cs(["ICD:I51.7"]), tiny_kb).shared
    assert {(c.kind, c.concept, c.partner) for c in shared} == {
        ("synonym", "HP:6", "ICD:I51.7"),
        ("synonym", "ICD:I51.7", "HP:6"),
    }


def test_same_preferred_name_across_vocabularies_is_optional(tiny_kb):
    a, b = cs(["HP:7"]), cs(["ICD:J98.11"])
    assert tversky(a, b, tiny_kb) == 1.0
    assert tversky(a, b, tiny_kb, name_synonyms=False) == 0.0


def test_hierarchy_gives_partial_credit_decaying_with_steps(tiny_kb):
    # left pleural effusion vs pleural effusion: one step, credit 0.5 on each side
    # I = 0.5 * (0.5 + 0.5) = 0.5, F = B = 0.5 -> 0.5 / (0.5 + 0.5)
    assert tversky(cs(["HP:4"]), cs(["HP:3"]), tiny_kb) == pytest.approx(0.5)
    # two steps (abnormality of the pleura): credit 0.25, F = B = 0.75
    assert tversky(cs(["HP:4"]), cs(["HP:2"]), tiny_kb) == pytest.approx(0.25)
    assert tversky(cs(["HP:4"]), cs(["HP:2"]), tiny_kb, depth=1) == 0.0
    assert tversky(cs(["HP:4"]), cs(["HP:3"]), tiny_kb, decay=0.8) == pytest.approx(0.8)
    # siblings are not on one line of descent
    assert tversky(cs(["HP:3"]), cs(["HP:5"]), tiny_kb) == 0.0


def test_partial_match_through_a_synonym(tiny_kb):
    # ICD:J90 folds onto HP:3, whose child is HP:4
    assert tversky(cs(["ICD:J90"]), cs(["HP:4"]), tiny_kb) == pytest.approx(0.5)


def test_contradiction_through_an_absent_ancestor(tiny_kb):
    a = cs(["HP:3", "HP:6"])
    b = cs(["HP:6"], absent=["HP:2"])  # "no pleural abnormality" rules out the effusion
    # I = 1, F = 1, B = 0, C = 1 -> 1 / (1 + 0.5 + 1)
    assert tversky(a, b, tiny_kb) == pytest.approx(0.4)
    # exact matching only: the absent parent does not reach the effusion
    assert tversky(a, b, tiny_kb, preset="seed") == pytest.approx(1 / 1.5)
    # a negated child does not deny its parent
    assert tversky(cs(["HP:2"]), cs(["HP:2"], absent=["HP:3"]), tiny_kb) == 1.0


def test_direct_contradiction_both_ways(tiny_kb):
    a = cs(["HP:5"], absent=["HP:6"])
    b = cs(["HP:6"], absent=["HP:5"])
    # nothing shared: I = 0
    assert tversky(a, b, tiny_kb) == 0.0
    e = explain(a, b, tiny_kb)
    assert e.contradiction == 2.0
    assert {(c.side, c.concept, c.partner) for c in e.contradictions} == {("a", "HP:5", "HP:5"), ("b", "HP:6", "HP:6")}


def test_weights_per_group(tiny_kb):
    a, b = cs(["HP:6", "HP:10"]), cs(["HP:6"])
    assert tversky(a, b, tiny_kb) == pytest.approx(1 / 1.5)
    # the surgical clip (group DEVI) weighs 0.2: I = 1, F = 0.2 -> 1 / 1.1
    assert tversky(a, b, tiny_kb, weights={"DEVI": 0.2}) == pytest.approx(1 / 1.1)


def test_set_weights_scale_concepts(tiny_kb):
    a = ConceptSet.of({"HP:3": 3.0, "HP:9": 1.0})
    # I = 0.5 * (3 + 1) = 2, F = 1, B = 0 -> 2 / 2.5
    assert tversky(a, cs(["HP:3"]), tiny_kb) == pytest.approx(0.8)


def test_information_content_weights(tiny_kb):
    # HP has 10 concepts; "abnormality of the pleura" has 3 below it: IC = log(10/4) / log(10)
    ic = math.log(10 / 4) / math.log(10)
    a, b = cs(["HP:2", "HP:9"]), cs(["HP:2"])
    assert tversky(a, b, tiny_kb, ic=True) == pytest.approx(ic / (ic + 0.5))


@pytest.mark.parametrize(("alpha", "beta", "expected"), [(0.5, 1.0, 0.5), (1.0, 1.0, 1.0), (0.0, 1.0, 1 / 3), (0.5, 2.0, 1 / 3)])
def test_alpha_weighs_the_smaller_and_larger_difference(tiny_kb, alpha, beta, expected):
    # I = 1, F = 2, B = 0: alpha * min + (1 - alpha) * max
    a, b = cs(["HP:3", "HP:5", "HP:6"]), cs(["HP:3"])
    assert tversky(a, b, tiny_kb, alpha=alpha, beta=beta) == pytest.approx(expected)
    assert tversky(b, a, tiny_kb, alpha=alpha, beta=beta) == pytest.approx(expected)


def test_possible_counts_half(tiny_kb):
    # present (w 1) vs possible (w 0.5): I = 0.5 * (1 * 0.5 + 0.5 * 1) = 0.5, F = 0.5, B = 0
    assert tversky(cs(["HP:3"]), cs(possible=["HP:3"]), tiny_kb) == pytest.approx(0.5 / 0.75)
    assert tversky(cs(possible=["HP:3"]), cs(possible=["HP:3"]), tiny_kb) == 1.0
    # a possible finding denied by the other report costs its half weight
    assert explain(cs(["HP:6"], possible=["HP:5"]), cs(["HP:6"], absent=["HP:5"]), tiny_kb).contradiction == 0.5


def test_shared_absences_only_count_when_asked(tiny_kb):
    a, b = cs(absent=["HP:5"]), cs(["HP:6"], absent=["HP:5"])
    assert tversky(a, b, tiny_kb) == 0.0
    # I = 0.5 * 0.5 * (1 + 1) = 0.5, F = 0, B = 1 -> 0.5 / (0.5 + 0.5)
    assert tversky(a, b, tiny_kb, absent_weight=0.5) == pytest.approx(0.5)


def test_nothing_to_compare_scores_one(tiny_kb):
    assert tversky(cs(), cs(), tiny_kb) == 1.0
    assert tversky(cs(absent=["HP:5"]), cs(absent=["HP:6"]), tiny_kb) == 1.0
    assert tversky(cs(["HP:5"]), cs(), tiny_kb) == 0.0


def test_explain_lists_every_contribution(tiny_kb):
    a = cs(["HP:4", "HP:6", "HP:8"], absent=["HP:5"])
    b = cs(["HP:3", "ICD:I51.7", "HP:5", "HP:9"])
    e = explain(a, b, tiny_kb)
    assert {(c.concept, c.partner, c.relation) for c in e.shared} == {("HP:6", "ICD:I51.7", "synonym"), ("ICD:I51.7", "HP:6", "synonym")}
    assert {(c.concept, c.partner, c.relation, c.distance, c.credit) for c in e.partial} == {
        ("HP:4", "HP:3", "broader", 1, 0.5),
        ("HP:3", "HP:4", "narrower", 1, 0.5),
    }
    assert [c.concept for c in e.missing_a] == ["HP:8"]
    assert sorted(c.concept for c in e.missing_b) == ["HP:5", "HP:9"]
    assert [(c.side, c.concept, c.partner) for c in e.contradictions] == [("b", "HP:5", "HP:5")]
    # the terms are the sums of the contributions
    assert e.intersection == pytest.approx(sum(c.gain for c in e.items)) == pytest.approx(1 + 0.5)
    assert e.only_a == pytest.approx(1 + 0.5)
    assert e.only_b == pytest.approx(2 + 0.5)
    assert e.contradiction == 1.0
    assert e.score == pytest.approx(1.5 / (1.5 + 0.5 * (1.5 + 2.5) + 1.0))
    lines = e.describe(lambda c: tiny_kb.get(c).name)
    text = "\n".join(lines)
    assert "Cardiomegaly [present] = Cardiac enlargement [present]" in text
    assert "Pneumothorax [present] in report, but query says no Pneumothorax" in text
    assert "only in query" in text and "Pulmonary nodule" in text


def test_presets_and_bad_settings():
    assert TverskyParams.create("seed").depth == 0
    assert TverskyParams.create("seed").alpha == 0.5 and TverskyParams.create("seed").beta == 1.0
    with pytest.raises(ConfigError):
        TverskyParams.create("nope")
    with pytest.raises(ConfigError):
        TverskyParams.create(alpha=1.5)
    with pytest.raises(ConfigError):
        TverskyParams.create(gamma=1)
