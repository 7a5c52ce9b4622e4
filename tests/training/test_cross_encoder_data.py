"""Cross-encoder training lists: hard lists only, gold inserted, query name hidden from candidates."""

from __future__ import annotations

import random

from clinlink.linking import Candidate
from clinlink.training.cross_encoder import CrossEncoderSettings, build_examples, is_hard, training_queries


def _found(*pairs: tuple[str, float]) -> list[Candidate]:
    return [Candidate(concept_id, concept_id, score) for concept_id, score in pairs]


def test_hard_lists_are_misses_and_narrow_wins():
    assert is_hard(_found(("B", 0.9), ("A", 0.5)), "A", 0.2)
    assert is_hard(_found(("A", 0.9), ("B", 0.85)), "A", 0.2)
    assert not is_hard(_found(("A", 0.9), ("B", 0.5)), "A", 0.2)
    assert is_hard(_found(("A", 0.9), ("B", 0.5)), "A", None)


def test_training_queries_skip_held_out_and_single_name_concepts(tiny_kb):
    queries = training_queries(tiny_kb, ["HP"], seed=0, limit=None)
    assert len(queries) == 18  # six concepts with three names each
    assert {concept_id for _, concept_id in queries} == {f"HP:990000{i}" for i in range(2, 8)}
    assert training_queries(tiny_kb, ["HP"], seed=0, limit=5) == queries[:5]


def test_examples_insert_the_gold_and_hide_the_query_name(tiny_kb):
    settings = CrossEncoderSettings(top_k=3, context_share=1.0)
    queries = [("Big heart", "HP:9900002"), ("Pale skin", "HP:9900006")]
    lists = [
        _found(("HP:9900003", 0.8), ("HP:9900004", 0.7), ("HP:9900005", 0.6)),  # gold missed
        _found(("HP:9900006", 0.95), ("HP:9900007", 0.3)),  # easy: dropped
    ]
    [example] = build_examples(tiny_kb, queries, lists, settings, random.Random(0))
    assert len(example.candidates) == 3 and example.gold == 2
    assert example.candidates[2].startswith("Heart enlargement ; Enlarged cardiac silhouette")
    assert all("Big heart" not in text for text in example.candidates)
    assert example.query.startswith("Big heart | ") and "Big heart" in example.query.split(" | ", 1)[1]
