"""``clinlink train``: a few steps on the tiny KB with a tiny random BERT give loadable fp16 models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from typer.testing import CliRunner

from clinlink.cli.main import app
from clinlink.kb.compiled import sha256_file
from clinlink.linking.encoder import TextEncoder
from clinlink.linking.rerank import CrossEncoderReranker

runner = CliRunner()


def _weights_are_fp16(folder: Path) -> None:
    files = sorted(folder.glob("*.safetensors"))
    assert files
    for path in files:
        with safe_open(str(path), framework="pt") as weights:
            dtypes = {name: str(weights.get_tensor(name).dtype) for name in weights.keys()}
        packed = {name: dtype for name, dtype in dtypes.items() if name.endswith((":int8", ":scale"))}
        assert {dtype for name, dtype in dtypes.items() if name not in packed} == {"torch.float16"}
        if path.name == "model.safetensors":  # the word embeddings as int8 rows, a scale each
            assert packed == {"embeddings.word_embeddings.weight:int8": "torch.int8", "embeddings.word_embeddings.weight:scale": "torch.float32"}
        assert sha256_file(path) in (folder / "model_card.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def bi_encoder_dir(tiny_kb_dir: Path, tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bi") / "model"
    args = ["train", "bi-encoder", "--kb", str(tiny_kb_dir), "--base", str(tiny_bert_dir), "--out", str(out)]
    result = runner.invoke(app, [*args, "--batch-size", "4", "--max-steps", "3", "--lr", "1e-3", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "trained 3/3 steps" in result.output
    return out


def test_bi_encoder_training_saves_a_loadable_fp16_model_that_moved(bi_encoder_dir: Path, tiny_bert_dir: Path):
    _weights_are_fp16(bi_encoder_dir)
    card = (bi_encoder_dir / "model_card.md").read_text(encoding="utf-8")
    assert "clinlink train bi-encoder" in card and "max_pairs_per_concept | 50" in card
    trained = TextEncoder(bi_encoder_dir)
    assert trained.pooling == "mean" and next(trained.model.parameters()).dtype.is_floating_point
    assert str(next(trained.model.parameters()).dtype) == "torch.float32"
    names = ["big heart", "heart enlargement", "pale skin"]
    vectors = trained.encode(names)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert not np.allclose(vectors, TextEncoder(tiny_bert_dir).encode(names), atol=1e-3)


def test_cross_encoder_training_mines_lists_and_saves_a_working_reranker(
    tiny_kb_dir: Path, tiny_kb, tiny_bert_dir: Path, bi_encoder_dir: Path, tmp_path: Path
):
    out = tmp_path / "cross"
    args = ["train", "cross-encoder", "--kb", str(tiny_kb_dir), "--base", str(tiny_bert_dir), "--out", str(out)]
    args += ["--retriever", str(bi_encoder_dir), "--top-k", "4", "--batch-size", "2", "--max-steps", "2", "--layers", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    _weights_are_fp16(out)
    assert (out / "score_head.safetensors").is_file()
    card = (out / "model_card.md").read_text(encoding="utf-8")
    assert "gold_in_top_k" in card and "calibration" in card
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 1
    saved = json.loads((out / "reranker.json").read_text())
    assert {"margin", "weight", "max_length"} <= set(saved) and saved["top_k"] == 4
    reranker = CrossEncoderReranker(tiny_kb, out)
    assert (reranker.margin, reranker.weight, reranker.top_k) == (saved["margin"], saved["weight"], 4)
    logits = reranker.logits("big heart", None, ["HP:9900002", "HP:9900005"])
    assert len(logits) == 2 and logits[0] != logits[1]
    recalibrate = ["train", "calibrate-reranker", "--model", str(out), "--kb", str(tiny_kb_dir), "--retriever", str(bi_encoder_dir)]
    result = runner.invoke(app, [*recalibrate, "--top-k", "3"])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "reranker.json").read_text())
    assert saved["top_k"] == 3 and "min_probability" in saved and saved["max_length"] == 64
    card = (out / "model_card.md").read_text(encoding="utf-8")
    assert card.count("## Calibration") == 1 and "clinlink train calibrate-reranker" in card and "--top-k 3" in card
    assert saved["quantize"] is False
    (out / "model_card.md").write_text(card + "\n## Metrics (after calibration)\nmeasured later\n", encoding="utf-8")
    assert runner.invoke(app, [*recalibrate, "--quantize"]).exit_code == 0
    assert json.loads((out / "reranker.json").read_text())["quantize"] is True
    card = (out / "model_card.md").read_text(encoding="utf-8")
    assert card.count("## Calibration") == 1 and "--quantize --seed" in card and card.endswith("measured later\n")
    assert runner.invoke(app, [*recalibrate]).exit_code == 0  # kept as saved unless asked
    assert json.loads((out / "reranker.json").read_text())["quantize"] is True
    (out / "reranker.json").unlink()  # a model without saved settings calibrates onto the defaults
    assert runner.invoke(app, [*recalibrate, "--top-k", "3"]).exit_code == 0
    assert json.loads((out / "reranker.json").read_text())["top_k"] == 3
    nothing = runner.invoke(app, [*recalibrate, "--source", "ICD10CM"])
    assert nothing.exit_code != 0 and "no concepts of ICD10CM in this KB" in str(nothing.exception) + nothing.output


def test_training_needs_data(tiny_kb_dir: Path, tiny_bert_dir: Path, tmp_path: Path):
    args = ["train", "bi-encoder", "--kb", str(tiny_kb_dir), "--base", str(tiny_bert_dir), "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--source", "ICD10CM", "--max-steps", "1"])
    assert result.exit_code != 0
    assert "training data is empty" in str(result.exception) + result.output


def test_training_never_defaults_to_the_packaged_models(tiny_kb_dir: Path, tiny_bert_dir: Path):
    from clinlink.resources import MODEL, packaged_dir

    before = {path: path.stat().st_mtime_ns for path in packaged_dir(MODEL).rglob("*") if path.is_file()}
    for command in (["bi-encoder", "--max-steps", "1"], ["cross-encoder", "--max-steps", "1"], ["calibrate-reranker"]):
        result = runner.invoke(app, ["train", *command, "--kb", str(tiny_kb_dir)])
        assert result.exit_code == 2 and ("'--out'" in result.output or "'--model'" in result.output), result.output
    assert {path: path.stat().st_mtime_ns for path in packaged_dir(MODEL).rglob("*") if path.is_file()} == before


def test_coding_lexicon_needs_its_notes_and_codes(tmp_path: Path):
    (tmp_path / "notes").mkdir()
    codes = tmp_path / "codes.tsv"
    codes.write_text("doc_id\tcode\nd1\n", encoding="utf-8")
    missing = runner.invoke(app, ["train", "coding-lexicon", "--notes", str(tmp_path / "nope"), "--codes", str(codes), "--out", str(tmp_path / "l.tsv")])
    assert missing.exit_code == 2 and "nope" in missing.output
    empty = runner.invoke(app, ["train", "coding-lexicon", "--notes", str(tmp_path / "notes"), "--codes", str(codes), "--out", str(tmp_path / "l.tsv")])
    assert empty.exit_code != 0 and "no .txt notes" in str(empty.exception) + empty.output
    (tmp_path / "notes" / "d1.txt").write_text("Fever.", encoding="utf-8")
    bad_row = runner.invoke(app, ["train", "coding-lexicon", "--notes", str(tmp_path / "notes"), "--codes", str(codes), "--out", str(tmp_path / "l.tsv")])
    assert bad_row.exit_code != 0 and "codes.tsv, line 2" in str(bad_row.exception) + bad_row.output
    assert not (tmp_path / "l.tsv").exists()
