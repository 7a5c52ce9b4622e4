"""The cross-encoder reranker: input format, gate, score fusion, LRU cache, and its use by the Linker."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from clinlink.errors import ConfigError
from clinlink.linking import Candidate, Linker, Reranker, TextEncoder
from clinlink.linking.rerank import SETTINGS_FILE, CrossEncoderReranker, candidate_text, context_window, fused_scores
from tests.linking.fresh_process import imports_module


@pytest.fixture(scope="module")
def reranker(tiny_kb, tiny_cross_encoder_dir: Path) -> CrossEncoderReranker:
    return CrossEncoderReranker(tiny_kb, tiny_cross_encoder_dir, top_k=4, margin=0.1, weight=0.5)


def _candidates(*scores: float, exact: bool = False) -> list[Candidate]:
    ids = ["HP:9900002", "HP:9900003", "HP:9900004", "HP:9900005", "HP:9900006"]
    return [Candidate(ids[i], f"name {i}", s, exact=exact and i == 0) for i, s in enumerate(scores)]


def test_context_window_keeps_words_around_the_mention():
    context = "one two three four big heart five six seven"
    assert context_window("Big Heart", context, 2) == "three four big heart five six"
    assert context_window("absent", context, 2) == "one two three four"
    assert context_window("big heart", None, 2) == ""
    assert context_window("big heart", context, 0) == ""


def test_candidate_text_hides_the_query_name_and_names_the_parent(tiny_kb):
    text = candidate_text(tiny_kb.get("HP:9900002"), tiny_kb, synonyms=3, hide="big heart")
    assert "Big heart" not in text
    assert text.startswith("Heart enlargement ; Enlarged cardiac silhouette")
    assert "is a Phenotypic abnormality" in text


def test_fused_scores_never_exceed_the_best_retrieval_score():
    retrieval = np.array([0.8, 0.75, 0.3])
    fused = fused_scores(retrieval, np.array([0.1, 0.8, 0.1]), 0.5)
    assert fused.max() <= retrieval.max() and fused.argmax() == 1
    assert np.allclose(fused_scores(retrieval, np.array([0.1, 0.8, 0.1]), 0.0), retrieval)


def test_it_is_a_reranker_and_gates_on_exact_names_and_the_margin(reranker):
    assert isinstance(reranker, Reranker)
    assert not reranker.should_rerank("x", _candidates(0.9, 0.85, exact=True))
    assert not reranker.should_rerank("x", _candidates(0.9, 0.7))
    assert not reranker.should_rerank("x", _candidates(0.9))
    assert reranker.should_rerank("x", _candidates(0.9, 0.85))


def test_rerank_reorders_the_head_by_the_fused_score_and_keeps_the_tail(reranker):
    candidates = _candidates(0.7, 0.69, 0.68, 0.67, 0.2)
    reranked = reranker.rerank(["big heart"], [None], [candidates])[0]
    head, tail = reranked[:4], reranked[4:]
    assert tail == candidates[4:]
    assert {c.concept_id for c in head} == {c.concept_id for c in candidates[:4]}
    assert sum(c.rerank_score for c in head) == pytest.approx(1.0)
    assert [c.score for c in head] == sorted((c.score for c in head), reverse=True)
    assert all(c.retrieved_by == "rerank" and c.score <= 0.7 + 1e-9 for c in head)
    logits = reranker.logits("big heart", None, [c.concept_id for c in candidates[:4]])
    pure = CrossEncoderReranker(reranker.kb, reranker.model_dir, top_k=4, weight=1.0).rerank(["big heart"], [None], [candidates])[0]
    assert [c.concept_id for c in pure[:4]] == [candidates[i].concept_id for i in np.argsort(logits)[::-1]]


def test_the_cache_saves_model_calls_for_repeated_phrases(tiny_kb, tiny_cross_encoder_dir):
    reranker = CrossEncoderReranker(tiny_kb, tiny_cross_encoder_dir, cache_size=2)
    ids = ["HP:9900002", "HP:9900003", "HP:9900004"]
    first = reranker.logits("big heart", "he has a big heart today", ids)
    assert reranker.model_calls == 1
    assert reranker.logits("big heart", "he has a big heart today", ids) == first
    assert reranker.logits("big heart", "he has a big heart today", ids[:2]) == first[:2]
    assert reranker.model_calls == 1
    reranker.logits("big heart", "she has a big heart today", ids)  # another window
    assert reranker.model_calls == 2
    reranker.logits("big heart", "he has a big heart today", [*ids, "HP:9900005"])  # only the new concept
    assert reranker.model_calls == 3
    reranker.logits("pale skin", None, ids)
    reranker.logits("long toes", None, ids)  # evicts the oldest entry
    calls = reranker.model_calls
    reranker.logits("big heart", "she has a big heart today", ids)
    assert reranker.model_calls == calls + 1


def test_the_linker_reranks_only_unsafe_mentions(tiny_kb, tiny_bert_dir, tiny_cross_encoder_dir, tmp_path):
    reranker = CrossEncoderReranker(tiny_kb, tiny_cross_encoder_dir, top_k=4)
    linker = Linker.from_kb(
        tiny_kb, encoder=TextEncoder(tiny_bert_dir), reranker=reranker, cache_dir=tmp_path, nil_threshold=0.0
    )
    mention = "enlarged heart silhouette"
    retrieved = linker.retrieve([mention], 4)[0]
    margin = retrieved[0].score - retrieved[1].score
    reranker.margin = margin - 1e-6  # the top candidate is safe: nothing changes
    untouched = linker.link([mention], k=4)[0]
    assert [c.concept_id for c in untouched] == [c.concept_id for c in retrieved]
    assert all(c.rerank_score is None for c in untouched) and reranker.model_calls == 0
    reranker.margin = margin + 1e-6  # now it is not: the list is reranked
    reranked = linker.link([mention], contexts=["an enlarged heart silhouette on x-ray"], k=4)[0]
    assert all(c.rerank_score is not None for c in reranked) and reranker.model_calls == 1
    exact = linker.link(["heart enlargement"], k=4)[0]
    assert exact[0].concept_id == "HP:9900002" and exact[0].rerank_score is None


def test_a_missing_model_is_a_clear_error(tiny_kb, tmp_path):
    with pytest.raises(ConfigError, match="clinlink train cross-encoder"):
        CrossEncoderReranker(tiny_kb, tmp_path / "nowhere")


def test_malformed_reranker_settings_name_their_file(tiny_kb, tiny_cross_encoder_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_cross_encoder_dir, model)
    (model / "reranker.json").write_text('{"margin": 0.1,', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"reranker\.json: cannot read the reranker settings.*line 1"):
        CrossEncoderReranker(tiny_kb, model)
    (model / "reranker.json").write_text("[0.1]", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        CrossEncoderReranker(tiny_kb, model)



def test_calibration_picks_a_gate_no_worse_than_retrieval(tiny_kb, tiny_bert_dir, tiny_cross_encoder_dir, tmp_path):
    from clinlink.training.calibrate import calibrate, held_out_queries

    linker = Linker.from_kb(tiny_kb, encoder=TextEncoder(tiny_bert_dir), cache_dir=tmp_path)
    queries = held_out_queries(linker, ["HP"], None, seed=0)
    assert sorted(q.name for q in queries) == ["Bluish lips", "Lip cyanosis"]
    assert all(q.concept_id == "HP:9900024" and len(q.exclude) == 1 for q in queries)
    result = calibrate(CrossEncoderReranker(tiny_kb, tiny_cross_encoder_dir, top_k=4), linker, queries)
    assert result["acc@1"] >= result["acc@1_retrieval"]
    closed = [row for row in result["grid"] if row["margin"] == 0.0]
    assert all(row["reranked"] == 0 and row["acc@1"] == result["acc@1_retrieval"] for row in closed)
    assert result["changed"] == 0 or result["change_precision"] >= result["min_change_precision"]
    assert {row["min_probability"] for row in result["grid"]} >= {None, 0.9}
    strict = calibrate(CrossEncoderReranker(tiny_kb, tiny_cross_encoder_dir, top_k=4), linker, queries, min_change_precision=1.01)
    assert strict["changed"] == 0 and strict["margin"] == 0.0 and strict["acc@1"] == strict["acc@1_retrieval"]


def test_the_linker_component_reranks_with_the_sentence_as_context(tiny_kb, tiny_bert_dir, tiny_cross_encoder_dir):
    import spacy

    import clinlink.linking.component  # noqa: F401  (registers the factory)

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    config = {"kb": str(tiny_kb.path), "encoder": str(tiny_bert_dir), "reranker": str(tiny_cross_encoder_dir), "nil_threshold": 0.0, "k": 3}
    component = nlp.add_pipe("clinlink_linker", config=config)
    reranker = component.linker.reranker
    assert isinstance(reranker, CrossEncoderReranker) and reranker.model_dir == tiny_cross_encoder_dir
    reranker.margin = 1.0  # every inexact list is unsafe
    text = "No fever. The film shows an enlarged heart silhouette today."
    doc = nlp.make_doc(text)
    start = text.index("enlarged heart silhouette")
    doc.ents = [doc.char_span(start, start + len("enlarged heart silhouette"), label="PHENOTYPE")]
    for name, pipe in nlp.pipeline:
        doc = pipe(doc)
    assert reranker.model_calls == 1
    assert list(reranker._cache) == [("enlarged heart silhouette", "The film shows an enlarged heart silhouette today.")]
    assert doc.ents[0]._.concept_id == doc.ents[0]._.candidates[0][0]
    plain = spacy.blank("en").add_pipe("clinlink_linker", config=config | {"reranker": None})
    assert plain.linker.reranker is None and plain.linker is not component.linker


def test_the_plain_torch_pair_scorer_matches_transformers(tiny_cross_encoder_dir):
    from clinlink.linking.pair_scorer import _transformers_pair_logits, load_pair_logits

    pairs = [("big heart | he has a big heart", "Heart enlargement ; Enlarged cardiac silhouette"), ("", "fever"),
             ("pale " * 30, "skin " * 30)]  # the last pair is truncated longest-first
    plain = load_pair_logits(tiny_cross_encoder_dir, 24)
    assert plain.__module__ == "clinlink.linking.pair_scorer" and "transformers" not in plain.__qualname__
    np.testing.assert_allclose(plain(pairs), _transformers_pair_logits(tiny_cross_encoder_dir, 24)(pairs), atol=1e-5)


def test_int8_pair_scorer_stays_close_on_both_paths(tiny_cross_encoder_dir):
    from clinlink.linking.pair_scorer import _transformers_pair_logits, load_pair_logits

    pairs = [("big heart | he has a big heart", "Heart enlargement ; Enlarged cardiac silhouette"), ("fever", "pyrexia"),
             ("pale skin", "Pallor ; Pale skin")]
    full = np.asarray(load_pair_logits(tiny_cross_encoder_dir, 24)(pairs))
    for quantized in (load_pair_logits(tiny_cross_encoder_dir, 24, quantize=True), _transformers_pair_logits(tiny_cross_encoder_dir, 24, True)):
        logits = np.asarray(quantized(pairs))
        assert not np.array_equal(logits, full)
        np.testing.assert_allclose(logits, full, atol=0.05 * np.abs(full).max())


def test_quantize_is_read_from_the_saved_settings_and_can_be_overridden(tiny_kb, tiny_cross_encoder_dir, tmp_path):
    model = tmp_path / "ce"
    shutil.copytree(tiny_cross_encoder_dir, model)
    settings = json.loads((model / SETTINGS_FILE).read_text()) if (model / SETTINGS_FILE).exists() else {}
    (model / SETTINGS_FILE).write_text(json.dumps(settings | {"quantize": True}))
    assert CrossEncoderReranker(tiny_kb, model).quantize
    assert not CrossEncoderReranker(tiny_kb, model, quantize=False).quantize
    (model / SETTINGS_FILE).write_text(json.dumps(settings | {"quantize": "false"}))
    with pytest.raises(ConfigError, match=r"reranker\.json: 'quantize' must be true or false, not 'false'"):
        CrossEncoderReranker(tiny_kb, model)


def test_loading_the_reranker_does_not_import_transformers(tiny_kb, tiny_cross_encoder_dir):
    script = (
        "from clinlink.kb import load_compiled\n"
        "from clinlink.linking.rerank import CrossEncoderReranker\n"
        f"kb = load_compiled({str(tiny_kb.path)!r})\n"
        f"reranker = CrossEncoderReranker(kb, {str(tiny_cross_encoder_dir)!r})\n"
        "reranker.logits('big heart', None, ['HP:9900002', 'HP:9900003'])"
    )
    assert not imports_module(script, "transformers")


def test_a_confidence_gate_overrides_retrieval_only_when_the_model_is_sure(reranker):
    candidates = _candidates(0.7, 0.69, 0.68, 0.67)
    ids = [c.concept_id for c in candidates]
    p = np.exp(reranker.logits("big heart", None, ids))
    p /= p.sum()
    assert p.argmax() != 0  # the tiny random model prefers another candidate than retrieval's first
    sure = CrossEncoderReranker(reranker.kb, reranker.model_dir, top_k=4, min_probability=float(p.max()) - 1e-6)
    overridden = sure.rerank(["big heart"], [None], [candidates])[0]
    assert overridden[0].concept_id == ids[int(p.argmax())] and overridden[0].retrieved_by == "rerank"
    assert overridden[0].score == pytest.approx(p.max() * 0.7)
    unsure = CrossEncoderReranker(reranker.kb, reranker.model_dir, top_k=4, min_probability=float(p.max()) + 1e-6)
    kept = unsure.rerank(["big heart"], [None], [candidates])[0]
    assert [(c.concept_id, c.score, c.retrieved_by) for c in kept] == [(c.concept_id, c.score, c.retrieved_by) for c in candidates]
    assert [c.rerank_score for c in kept] == pytest.approx(list(p))
