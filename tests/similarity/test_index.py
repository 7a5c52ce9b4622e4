"""ReportIndex: vectorized scores equal the reference tversky(), ranking, save/load."""

from __future__ import annotations

import random

import pytest

from clinlink.similarity import ConceptSet, tversky
from clinlink.similarity.index import ReportIndex

from .test_concept_set import make_doc


def random_sets(ids: list[str], count: int, seed: int) -> list[ConceptSet]:
    rnd = random.Random(seed)
    sets = []
    for _ in range(count):
        chosen = rnd.sample(ids, rnd.randint(0, 7))
        third = len(chosen) // 3
        present = {c: rnd.choice([0.5, 1.0, 2.0]) for c in chosen[:third + 1]}
        sets.append(ConceptSet.of(present, chosen[third + 1 : 2 * third + 1], chosen[2 * third + 1 :]))
    return sets


SETTINGS = [
    {},
    {"preset": "seed"},
    {"alpha": 0.2, "beta": 2.0, "decay": 0.7, "depth": 1, "possible_weight": 0.3},
    {"absent_weight": 0.4, "ic": True, "weights": {"DEVI": 0.25}, "name_synonyms": False},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_vectorized_scores_equal_reference(tiny_kb, settings):
    ids = [c.id for c in tiny_kb] + ["OTHER:1", "OTHER:2"]
    reports = random_sets(ids, 120, seed=1)
    index = ReportIndex.build([(f"r{i}", s) for i, s in enumerate(reports)], kb=tiny_kb, **settings)
    for query in random_sets(ids, 40, seed=2):
        scores = index.scores(query)
        for row, report in enumerate(reports):
            assert scores[row] == pytest.approx(tversky(query, report, tiny_kb, **settings), abs=1e-12)


def test_query_ranks_best_first_and_explains(tiny_kb):
    index = ReportIndex.build(
        [
            ("same", ConceptSet.of(["HP:3", "HP:6"])),
            ("synonym", ConceptSet.of(["ICD:J90", "ICD:I51.7"], absent=["HP:5"])),
            ("child", ConceptSet.of(["HP:4", "HP:6"])),
            ("contradicts", ConceptSet.of(["HP:6"], absent=["HP:3"])),
            ("unrelated", ConceptSet.of(["HP:9"])),
        ],
        kb=tiny_kb,
    )
    hits = index.query(ConceptSet.of(["HP:3", "HP:6"]), k=10)
    # every report comes back (k >= the index), the one sharing nothing last
    assert [h.id for h in hits] == ["same", "synonym", "child", "contradicts", "unrelated"]
    assert [h.score for h in hits] == pytest.approx([1.0, 1.0, 0.75, 0.4, 0.0])
    assert all(h.lexical == 0.0 for h in hits)  # no texts: ties fall to index order
    assert hits[3].explanation.contradictions[0].concept == "HP:3"
    assert [h.id for h in index.query(ConceptSet.of(["HP:3", "HP:6"]), k=2)] == ["same", "synonym"]
    # querying by id leaves the report itself out
    assert [h.id for h in index.query("same", k=2)] == ["synonym", "child"]


def test_index_from_docs(tiny_kb):
    doc = make_doc("Left effusion. No pneumothorax.", [("effusion", "HP:4", "present", False), ("pneumothorax", "HP:5", "absent", False)])
    index = ReportIndex.build([("d1", doc)], kb=tiny_kb)
    assert index.concept_set("d1") == ConceptSet.of(["HP:4"], absent=["HP:5"])


def test_save_load_round_trip(tiny_kb, tmp_path):
    ids = [c.id for c in tiny_kb]
    reports = random_sets(ids, 60, seed=3)
    index = ReportIndex.build([(f"r{i}", s) for i, s in enumerate(reports)], kb=tiny_kb, ic=True, absent_weight=0.2)
    index.save(tmp_path / "idx")
    index.save(tmp_path / "idx")  # replacing an existing index
    loaded = ReportIndex.load(tmp_path / "idx")  # without the KB: the saved tables answer
    assert loaded.ids == index.ids and loaded.sets == index.sets and loaded.params == index.params
    for query in random_sets(ids, 20, seed=4):
        assert list(loaded.scores(query)) == pytest.approx(list(index.scores(query)), abs=1e-12)
        assert [(h.id, h.score) for h in loaded.query(query, k=5)] == [(h.id, h.score) for h in index.query(query, k=5)]


def test_load_rejects_a_non_index(tmp_path):
    from clinlink.errors import SourceFormatError

    with pytest.raises(SourceFormatError, match="not a clinlink report index"):
        ReportIndex.load(tmp_path)


def test_query_always_answers_k_and_breaks_ties_by_text(tiny_kb, tmp_path):
    reports = [
        ("a", ConceptSet.of(["HP:3"]), "Small effusion at the left base."),
        ("b", ConceptSet.of(["HP:3"]), "Large right pleural effusion with compressive change."),
        ("c", ConceptSet.of(["HP:9"]), "Old granuloma in the right upper lobe."),
        ("d", ConceptSet.of(), "Right upper lobe granuloma, calcified."),
        ("e", ConceptSet.of(), ""),
    ]
    index = ReportIndex.build([(i, s) for i, s, _ in reports], kb=tiny_kb, texts={i: t for i, _, t in reports})
    # a tie on the Tversky score goes to the report whose text is closer
    hits = index.query(ConceptSet.of(["HP:3"]), k=2, text="Large pleural effusion on the right.")
    assert [h.id for h in hits] == ["b", "a"] and hits[0].score == hits[1].score == 1.0
    assert hits[0].lexical > hits[1].lexical > 0
    # a query sharing no concept still gets k hits, ranked by text, then index order
    hits = index.query(ConceptSet.of(["HP:6"]), k=4, text="Calcified granuloma, right upper lobe.")
    assert [h.id for h in hits] == ["d", "c", "b", "a"]
    assert [h.score for h in hits] == [0.0, 0.0, 0.0, 0.0] and hits[2].lexical > 0 == hits[3].lexical
    # an id query uses the stored text and leaves the report out; k above the pool gives every other report
    # (two empty sets are identical: score 1)
    assert [h.id for h in index.query("d", k=10)] == ["e", "c", "b", "a"]
    # texts survive saving
    loaded = ReportIndex.load(index.save(tmp_path / "idx"), kb=tiny_kb)
    assert [h.id for h in loaded.query("c", k=1)] == ["d"]
    assert loaded.texts == [t for _, _, t in reports]


def test_lexical_scores_equal_scikit_learn_tfidf_cosine():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from clinlink.similarity.lexical import LexicalIndex

    pool = ["Small left pleural effusion.", "No pleural effusion. No pneumothorax.", "Calcified granuloma in the right upper lobe.", ""]
    queries = ["Left pleural effusion, small; effusion.", "granuloma granuloma", "nothing in common", ""]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    expected = (vectorizer.fit(pool).transform(queries) @ vectorizer.transform(pool).T).toarray()
    index = LexicalIndex(pool)
    for query, row in zip(queries, expected):
        assert index.scores(query) == pytest.approx(row, abs=1e-12)
    assert LexicalIndex(["", "..."]).scores("effusion").tolist() == [0.0, 0.0]


def test_many_tied_reports_give_the_first_k(tiny_kb):
    index = ReportIndex.build([(f"r{i:02d}", ConceptSet.of(["HP:9"])) for i in range(30)], kb=tiny_kb)
    assert [h.id for h in index.query(ConceptSet.of(["HP:3"]), k=3)] == ["r00", "r01", "r02"]
    assert [h.id for h in index.query("r00", k=2)] == ["r01", "r02"]
