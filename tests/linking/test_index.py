import numpy as np
import pytest
import scipy.sparse as sp

from clinlink.kb.compiled import read_manifest
from clinlink.linking import Linker, TextEncoder
from clinlink.linking import linker as linker_module
from clinlink.linking.candidates import search_concepts
from clinlink.linking.dense import TORCH_MIN_QUERIES, DenseIndex
from clinlink.kb import KnowledgeBase
from clinlink.linking.names import NameTable, table_identity
from clinlink.linking.sparse import SparseIndex
from tests.linking.fresh_process import imports_module

QUERIES = ["enlarged heart", "fluid around lungs", "pyrexia", "kidney failure"]


def test_indexes_are_saved_in_the_kb_dir_registered_and_reloaded(tiny_kb, tiny_model_dir, monkeypatch):
    encoder = TextEncoder(tiny_model_dir)
    first = Linker.from_kb(tiny_kb, encoder=encoder, rebuild=True)
    index_dir = tiny_kb.path / "index" / encoder.fingerprint[:12]
    assert (index_dir / "dense.faiss").is_file() and (index_dir / "names.json").is_file()
    artifact = read_manifest(tiny_kb.path)["artifacts"][f"index/{encoder.fingerprint[:12]}"]
    assert artifact["fingerprint"] == encoder.fingerprint
    assert artifact["pooling"] == "mean" and artifact["dim"] == 32 and artifact["count"] == len(first.table)

    def refuse(*args):
        raise AssertionError("the cached index should have been loaded, not rebuilt")

    monkeypatch.setattr(linker_module, "_build_dense", refuse)
    monkeypatch.setattr(linker_module, "_build_sparse", refuse)
    second = Linker.from_kb(tiny_kb, encoder=encoder)
    for a, b in zip(first.link(QUERIES), second.link(QUERIES)):
        assert [(c.concept_id, round(c.score, 5)) for c in a] == [(c.concept_id, round(c.score, 5)) for c in b]


def test_indexes_of_the_same_compiled_kb_reuse_their_saved_name_table(tiny_kb, tiny_model_dir, tmp_path, monkeypatch):
    encoder = TextEncoder(tiny_model_dir)
    first = Linker.from_kb(tiny_kb, encoder=encoder, cache_dir=tmp_path)

    def refuse(*args):
        raise AssertionError("the saved name table should have been reused")

    monkeypatch.setattr(NameTable, "from_kb", classmethod(refuse))
    second = Linker.from_kb(tiny_kb, encoder=encoder, cache_dir=tmp_path)
    assert second.table.same_rows(first.table) and second.table.normalized == first.table.normalized
    assert [[c.concept_id for c in found] for found in second.link(QUERIES)] == [
        [c.concept_id for c in found] for found in first.link(QUERIES)
    ]
    monkeypatch.undo()
    in_memory = KnowledgeBase(list(tiny_kb))  # no compiled artifact: no identity, rows compared one by one
    assert table_identity(in_memory) is None
    assert Linker.from_kb(in_memory, encoder=encoder, cache_dir=tmp_path).table.same_rows(first.table)


def test_index_built_from_other_names_is_rebuilt(tiny_kb, tiny_model_dir, tmp_path):
    encoder = TextEncoder(tiny_model_dir)
    Linker.from_kb(tiny_kb, encoder=encoder, cache_dir=tmp_path)
    stale = NameTable(["something else"], ["HP:0001250"])
    stale.save(tmp_path / encoder.fingerprint[:12])
    linker = Linker.from_kb(tiny_kb, encoder=encoder, cache_dir=tmp_path)
    assert NameTable.load(tmp_path / encoder.fingerprint[:12]).same_rows(linker.table)


def unit_vectors(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    vectors = rng.normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

def test_dense_round_trip_memory_mapped(tmp_path):
    rng = np.random.default_rng(0)
    vectors = unit_vectors(rng, 50, 8)
    built = DenseIndex.build(vectors, {"fingerprint": "x"})
    built.save(tmp_path)
    loaded = DenseIndex.load(tmp_path)
    assert loaded.metadata["count"] == 50 and loaded.metadata["fingerprint"] == "x"
    np.testing.assert_array_equal(built.search_rows(vectors[:3], 5)[1], loaded.search_rows(vectors[:3], 5)[1])
    pairs = loaded.score_pairs(vectors[:2], np.array([0, 0, 1]), np.array([0, 1, 7]))
    np.testing.assert_allclose(pairs, [1.0, vectors[1] @ vectors[0], vectors[7] @ vectors[1]], rtol=1e-5)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_dense_filter_is_exact_for_small_allowed_sets(kind):
    rng = np.random.default_rng(1)
    vectors = unit_vectors(rng, 2000, 16)
    index = DenseIndex.build(vectors, kind=kind)
    allowed = np.array([3, 500, 1999], dtype=np.int64)
    scores, rows = index.search_rows(vectors[:4], 10, allowed)
    expected = allowed[np.argsort(-(vectors[:4] @ vectors[allowed].T), axis=1)]
    np.testing.assert_array_equal(rows, expected)
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.97])
def test_dense_filter_is_exact_for_any_share_of_allowed_rows(keep):
    """Small shares go through a subset copy, large ones through a wide search with the others dropped."""
    rng = np.random.default_rng(2)
    vectors = unit_vectors(rng, 3000, 16)
    index = DenseIndex.build(vectors)
    allowed = np.flatnonzero(rng.random(3000) < keep).astype(np.int64)
    queries = np.vstack([vectors[:20], -vectors[allowed[:2]]])  # the last two: nearest rows mostly not allowed
    scores, rows = index.search_rows(queries, 25, allowed)
    exact = queries @ vectors[allowed].T
    expected = allowed[np.argsort(-exact, axis=1, kind="stable")[:, :25]]
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(exact, np.argsort(-exact, axis=1, kind="stable")[:, :25], 1), rtol=1e-5)


@pytest.mark.parametrize("keep", [0.3, 0.97])
def test_few_and_many_queries_search_alike_under_the_same_filter(keep):
    """A call with few queries goes to FAISS, one with many to torch: both exact, one index, one filter."""
    rng = np.random.default_rng(4)
    vectors = unit_vectors(rng, 3000, 16)
    index = DenseIndex.build(vectors)
    allowed = np.flatnonzero(rng.random(3000) < keep).astype(np.int64)
    many = vectors[:TORCH_MIN_QUERIES + 4]
    for queries in (many, many[:3], many, many[:3]):
        _, rows = index.search_rows(queries, 10, allowed)
        expected = allowed[np.argsort(-(queries @ vectors[allowed].T), axis=1, kind="stable")[:, :10]]
        np.testing.assert_array_equal(rows, expected)


def test_dense_filter_falls_back_when_the_nearest_rows_are_all_filtered_out():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(3000, 16)).astype(np.float32)
    vectors[:200] = vectors[0] + 0.01 * rng.normal(size=(200, 16))  # a crowd around row 0, filtered out
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = DenseIndex.build(vectors)
    allowed = np.arange(200, 3000, dtype=np.int64)
    _, rows = index.search_rows(vectors[:1], 10, allowed)
    expected = allowed[np.argsort(-(vectors[allowed] @ vectors[0]), kind="stable")[:10]]
    np.testing.assert_array_equal(rows[0], expected)


def test_sparse_round_trip_and_scores(tmp_path):
    names = ["Pleural effusion", "Cardiomegaly", "Enlarged heart", "Pleural thickening"]
    built = SparseIndex.build(names)
    built.save(tmp_path)
    loaded = SparseIndex.load(tmp_path)
    scores, rows = loaded.search_rows(loaded.encode(["pleural effusions", "enlarged hearts"]), 2)
    assert rows[0, 0] == 0 and rows[1, 0] == 2
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-5)  # plural folded by normalize
    assert rows[0, 1] == 3  # shares "pleural"
    np.testing.assert_array_equal(rows, built.search_rows(built.encode(["pleural effusions", "enlarged hearts"]), 2)[1])
    queries = loaded.encode(["pleural effusion", "enlarged hearts"])
    pairs = loaded.score_pairs(queries, np.array([0, 0, 1, 1]), np.array([0, 3, 2, 0]))
    np.testing.assert_allclose(pairs[:2], scores[0], rtol=1e-5)
    assert pairs[2] == pytest.approx(scores[1, 0], abs=1e-5) and pairs[3] == pytest.approx(0.0, abs=1e-6)


def test_sparse_filter_and_no_overlap():
    index = SparseIndex.build(["Pleural effusion", "Cardiomegaly", "Pleural thickening"])
    scores, rows = index.search_rows(index.encode(["pleural effusion"]), 3, np.array([1, 2]))
    assert rows[0, 0] == 2 and rows[0, 1] == -1  # Cardiomegaly shares no trigram
    assert index.search_rows(index.encode(["zzz"]), 2)[1].tolist() == [[-1, -1]]


def test_a_filters_columns_are_saved_beside_a_loaded_sparse_index_and_read_back(tmp_path):
    names = ["Pleural effusion", "Cardiomegaly", "Pleural thickening", "Enlarged heart"]
    SparseIndex.build(names).save(tmp_path)
    allowed = np.array([0, 2, 3])
    queries = ["pleural effusions", "heart enlarged"]
    first = SparseIndex.load(tmp_path)
    expected = first.search_rows(first.encode(queries), 2, allowed)
    assert expected[1][0, 0] == 0 and expected[1][1, 0] == 3
    [saved] = (tmp_path / "subsets").iterdir()
    empty = sp.csr_matrix((len(first.weights.idf), len(allowed)), dtype=np.float32)
    for part in ("data", "indices", "indptr"):  # the next process maps these files instead of slicing the matrix
        np.save(saved / f"{part}.npy", getattr(empty, part))
    assert SparseIndex.load(tmp_path).search_rows(first.encode(queries), 2, allowed)[1].tolist() == [[-1, -1], [-1, -1]]
    (saved / "indptr.npy").write_bytes(b"not an npy file")  # a broken copy is worked out again and rewritten
    for got, want in zip(SparseIndex.load(tmp_path).search_rows(first.encode(queries), 2, allowed), expected):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.load(saved / "indptr.npy"), first.matrix[allowed].T.tocsr().indptr)


def test_search_concepts_reaches_k_distinct_concepts_past_crowded_names():
    names = [f"heart failure type {i}" for i in range(30)] + ["heart failure", "heart murmur", "heart block"]
    table = NameTable(names, ["X:1"] * 30 + ["X:2", "X:3", "X:4"])
    index = SparseIndex.build(names)
    found = search_concepts(index, index.encode(["heart failure type 1"]), table, k=3, oversample=2)
    assert list(found[0])[:1] == ["X:1"] and len(found[0]) == 3


def test_sparse_queries_match_scikit_learn_bit_for_bit(tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer

    names = ["Pleural effusion", "Cardiomegaly", "Enlarged heart", "Pleural thickening", "Renal failure, acute", "Ab"]
    SparseIndex.build(names, ngram_range=(2, 4)).save(tmp_path)
    loaded = SparseIndex.load(tmp_path)
    fitted = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), dtype=np.float32, sublinear_tf=True, vocabulary=loaded.weights.vocabulary
    )
    fitted.idf_ = loaded.weights.idf
    texts = ["pleural  effusion pleural", "", "a", "ENLARGED\theart", "zzz qq", "renal failure, acute renal failure", "é ab"]
    expected = fitted.transform(texts).tocsr()
    expected.sort_indices()
    found = loaded.weights.transform(texts)
    for part in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(found, part), getattr(expected, part))


def test_loading_a_sparse_index_does_not_import_scikit_learn(tmp_path):
    SparseIndex.build(["Pleural effusion", "Cardiomegaly"]).save(tmp_path)
    script = (
        "from clinlink.linking.sparse import SparseIndex\n"
        f"index = SparseIndex.load({str(tmp_path)!r})\n"
        "assert index.search_rows(index.encode(['pleural effusions']), 1)[1][0, 0] == 0"
    )
    assert not imports_module(script, "sklearn")


def test_sparse_index_with_a_mismatched_vocabulary_is_rejected(tmp_path):
    from clinlink.errors import KnowledgeBaseError

    SparseIndex.build(["Pleural effusion", "Cardiomegaly"]).save(tmp_path)
    (tmp_path / "tfidf_vocabulary.json").write_text('{"abc": 0}', encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="idf values.*rebuild it"):
        SparseIndex.load(tmp_path)
