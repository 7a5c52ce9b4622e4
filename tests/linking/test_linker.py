import numpy as np
import pytest

from clinlink.errors import KnowledgeBaseError
from clinlink.linking import Candidate, Linker, Reranker, TextEncoder


@pytest.fixture(scope="module")
def sparse_linker(tiny_kb, tmp_path_factory):
    return Linker.from_kb(tiny_kb, dense=False, cache_dir=tmp_path_factory.mktemp("sparse"), nil_threshold=0.0)


@pytest.fixture(scope="module")
def hybrid_linker(tiny_kb, tiny_model_dir, tmp_path_factory):
    encoder = TextEncoder(tiny_model_dir)
    return Linker.from_kb(tiny_kb, encoder=encoder, cache_dir=tmp_path_factory.mktemp("hybrid"), nil_threshold=0.0)


def ids(candidates):
    return [c.concept_id for c in candidates]


def test_links_synonyms_and_misspellings(sparse_linker):
    enlarged, effusion, typo = sparse_linker.link(["Enlarged hearts", "fluid around the lung", "pleural efusion"], k=3)
    assert enlarged[0].concept_id == "HP:0001640" and enlarged[0].exact and enlarged[0].score == 1.0
    assert enlarged[0].name == "Cardiomegaly" and enlarged[0].matched_name == "Enlarged heart"
    assert effusion[0].concept_id == "HP:0002202"
    assert typo[0].concept_id in {"HP:0002202", "ICD10CM:J90"} and not typo[0].exact


def test_exact_name_wins_over_higher_dense_scores(hybrid_linker):
    (result,) = hybrid_linker.link(["Fever"], k=3)
    assert result[0].concept_id == "HP:0001945" and result[0].exact
    assert len(set(ids(result))) == 3


def test_nil_threshold(sparse_linker):
    (linked,) = sparse_linker.link(["renal insufficency"], nil_threshold=0.0)
    score = linked[0].score
    assert 0.0 < score < 1.0
    assert sparse_linker.link(["renal insufficency"], nil_threshold=score + 0.01) == [[]]
    assert ids(sparse_linker.link(["renal insufficency"], nil_threshold=score - 0.01)[0])[0] == "HP:0000083"
    assert sparse_linker.link(["qqq"]) == [[]]  # nothing in common with any name


@pytest.mark.parametrize("linker_name", ["sparse_linker", "hybrid_linker"])
def test_sources_and_within_filters(linker_name, request):
    linker = request.getfixturevalue(linker_name)
    (icd,) = linker.link(["pleural effusion"], k=10, sources=["ICD10CM"])
    assert icd and all(c.concept_id.startswith("ICD10CM:") for c in icd)
    assert "ICD10CM:I51" not in ids(icd)  # not indexed
    (hpo,) = linker.link(["pleural effusion"], k=10, sources=["HPO"])
    assert ids(hpo)[0] == "HP:0002202" and all(c.concept_id.startswith("HP:") for c in hpo)
    (cardio,) = linker.link(["cardiomegaly, hypertension, abnormality"], k=10, within="HP:0001626")
    assert set(ids(cardio)) == {"HP:0001626", "HP:0001640", "HP:0000822"}  # whole subtree, itself included
    (inheritance,) = linker.link(["dominant"], k=10, within=["HP:0000006"])
    assert ids(inheritance) == ["HP:0000006"]


def test_unknown_subtree_is_an_error(sparse_linker):
    with pytest.raises(KnowledgeBaseError, match="HP:9999999"):
        sparse_linker.link(["fever"], within="HP:9999999")


def test_filter_rows_are_saved_once_and_read_by_a_new_linker(tiny_kb, tmp_path, monkeypatch):
    first = Linker.from_kb(tiny_kb, dense=False, cache_dir=tmp_path)
    filters = [dict(sources=["HP"]), dict(within="HP:0001626"), dict(sources=["ICD10CM"], groups=["DISO"])]
    expected = [first.allowed_rows(**f) for f in filters]
    assert len(list((tmp_path / "filters").glob("*.npy"))) == 3
    monkeypatch.setattr(Linker, "_allowed_rows", lambda *args: pytest.fail("recomputed a saved filter"))
    second = Linker.from_kb(tiny_kb, dense=False, cache_dir=tmp_path)
    for f, rows in zip(filters, expected):
        np.testing.assert_array_equal(second.allowed_rows(**f), rows)
    assert ids(second.link(["pleural effusion"], k=10, sources=["HP"])[0])[0] == "HP:0002202"


def test_a_broken_saved_filter_is_recomputed_and_a_kb_in_memory_saves_none(tiny_kb, tmp_path):
    from clinlink.kb import KnowledgeBase

    linker = Linker.from_kb(tiny_kb, dense=False, cache_dir=tmp_path)
    rows = linker.allowed_rows(sources=["HP"])
    (saved,) = (tmp_path / "filters").glob("*.npy")
    saved.write_bytes(b"not an array")
    np.testing.assert_array_equal(Linker.from_kb(tiny_kb, dense=False, cache_dir=tmp_path).allowed_rows(sources=["HP"]), rows)
    np.testing.assert_array_equal(np.load(saved), rows)  # rewritten
    in_memory = Linker.from_kb(KnowledgeBase(list(tiny_kb)), dense=False, cache_dir=tmp_path / "memory")
    np.testing.assert_array_equal(in_memory.allowed_rows(sources=["HP"]), rows)
    assert not (tmp_path / "memory" / "filters").exists()  # no checksum to key the rows on


def test_repeated_mentions_and_empty_input(sparse_linker):
    first, second = sparse_linker.link(["fever", "fever"])
    assert ids(first) == ids(second) and first[0] is not second[0]
    assert sparse_linker.link([]) == []
    with pytest.raises(ValueError, match="contexts"):
        sparse_linker.link(["fever"], contexts=[])


def test_codes_projection_through_shared_cui(sparse_linker):
    codes = sparse_linker.codes("HP:0002202")
    assert codes["HPO"] == ["HP:0002202"]
    assert codes["UMLS"] == ["C0032227"] and codes["ICD10CM"] == ["J90"]
    assert sparse_linker.codes("HP:0000999") == codes  # obsolete id resolves to its replacement


class ReverseWhenUnsure:
    """A reranker that reverses the list when the top two are close (to observe the linker's gate)."""

    top_k = 4

    def __init__(self):
        self.calls = []

    def should_rerank(self, mention, candidates):
        return not candidates[0].exact

    def rerank(self, mentions, contexts, lists):
        self.calls.extend((m, c, len(candidates)) for m, c, candidates in zip(mentions, contexts, lists))
        return [[Candidate(c.concept_id, c.name, 0.99, retrieved_by="rerank") for c in reversed(candidates)] for candidates in lists]


def test_reranker_is_called_behind_its_gate(tiny_kb, tmp_path):
    reranker = ReverseWhenUnsure()
    assert isinstance(reranker, Reranker)
    linker = Linker.from_kb(tiny_kb, dense=False, cache_dir=tmp_path, reranker=reranker, nil_threshold=0.0)
    plain = Linker.from_kb(tiny_kb, dense=False, cache_dir=tmp_path, nil_threshold=0.0)
    exact, fuzzy = linker.link(["fever", "pleural efusion"], contexts=["had a fever", "x-ray: pleural efusion"], k=2)
    assert exact[0].concept_id == "HP:0001945"  # gate closed: retrieval order kept
    assert reranker.calls == [("pleural efusion", "x-ray: pleural efusion", 4)]
    retrieved = ids(plain.link(["pleural efusion"], k=4)[0])
    assert ids(fuzzy) == retrieved[::-1][:2] and fuzzy[0].retrieved_by == "rerank"


class CountingEncoder:
    """Wraps a TextEncoder and records the texts it encodes."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.seen = []

    def __getattr__(self, name):
        return getattr(self.encoder, name)

    def encode(self, texts, batch_size=128):
        self.seen.extend(texts)
        return self.encoder.encode(texts, batch_size)


def test_exact_names_reuse_stored_vectors_with_the_same_candidates(tiny_kb, tiny_model_dir, tmp_path):
    encoder = TextEncoder(tiny_model_dir)
    plain = Linker.from_kb(tiny_kb, encoder=encoder, cache_dir=tmp_path, nil_threshold=0.0, exact_shortcut="none")
    fast = Linker(tiny_kb, plain.table, CountingEncoder(encoder), plain.dense, plain.sparse, nil_threshold=0.0)
    mentions = ["Enlarged hearts", "pleural efusion", "FEVER"]
    expected, got = plain.link(mentions, k=4), fast.link(mentions, k=4)
    assert fast.encoder.seen == ["pleural efusion"]  # the two KB names are not encoded
    assert [ids(c) for c in got] == [ids(c) for c in expected]
    for mine, theirs in zip(got[0] + got[2], expected[0] + expected[2]):
        assert mine.dense_score == pytest.approx(theirs.dense_score, abs=1e-4)


def test_retrieval_cache_keys_on_mention_and_filters(tiny_kb, tiny_model_dir, tmp_path):
    built = Linker.from_kb(tiny_kb, encoder=TextEncoder(tiny_model_dir), cache_dir=tmp_path)
    encoder = CountingEncoder(built.encoder)
    linker = Linker(tiny_kb, built.table, encoder, built.dense, built.sparse, nil_threshold=0.0, cache_size=2)
    first = linker.link(["renal insufficency", "pleural efusion"], k=3)
    again = linker.link(["pleural efusion", "renal insufficency"], k=3)
    assert encoder.seen == ["renal insufficency", "pleural efusion"]  # second call served from the cache
    assert [ids(c) for c in again] == [ids(c) for c in first[::-1]]
    again[0][0].score = -1.0  # callers get copies
    assert linker.link(["pleural efusion"], k=3)[0][0].score != -1.0
    (hpo_only,) = linker.link(["pleural efusion"], k=3, sources=["HPO"])
    assert encoder.seen[-1] == "pleural efusion" and all(c.concept_id.startswith("HP:") for c in hpo_only)
    linker.link(["fever typo"], k=3)  # evicts the oldest entry (size 2)
    linker.link(["renal insufficency"], k=3)
    assert encoder.seen.count("renal insufficency") == 2


def test_sparse_shortcut_skips_dense_search_for_kb_names_only(tiny_kb, tiny_model_dir, tmp_path):
    built = Linker.from_kb(tiny_kb, encoder=TextEncoder(tiny_model_dir), cache_dir=tmp_path)
    encoder = CountingEncoder(built.encoder)
    linker = Linker(tiny_kb, built.table, encoder, built.dense, built.sparse, nil_threshold=0.0)
    name, typo = linker.link(["Enlarged heart", "pleural efusion"], k=3, exact_shortcut="sparse")
    assert encoder.seen == ["pleural efusion"]
    assert name[0].concept_id == "HP:0001640" and name[0].exact
    assert all(c.dense_score is None for c in name) and any(c.dense_score is not None for c in typo)
    (vector,) = linker.link(["Enlarged heart"], k=3)  # the linker's default: dense alternatives too
    assert vector[0].concept_id == "HP:0001640" and any(c.dense_score is not None for c in vector)
    with pytest.raises(ValueError, match="exact_shortcut"):
        linker.link(["fever"], exact_shortcut="sometimes")
