"""The plain-torch BERT forward pass gives transformers' vectors, and falls back to transformers otherwise."""

import json
import shutil

import numpy as np

from clinlink.linking import bert
from clinlink.linking.encoder import TextEncoder
from tests.linking.fresh_process import imports_module

TEXTS = [
    "enlarged heart", "fluid around the lungs", "high blood pressure", "", "kidney failure of the renal",
    " ".join(["seizure"] * 30), "Zyx qq",
]


def test_plain_bert_matches_transformers(tiny_model_dir):
    encoder = TextEncoder(tiny_model_dir)
    assert encoder._bert is not None
    fast = encoder.encode(TEXTS, batch_size=3)
    token_ids = encoder._bert.token_ids(TEXTS)
    assert token_ids == encoder.tokenizer(TEXTS, truncation=True, max_length=encoder.max_length)["input_ids"]
    assert max(len(ids) for ids in token_ids) == encoder.max_length  # the long text was truncated alike
    encoder.model  # from now on encode runs the transformers network
    np.testing.assert_allclose(fast, encoder.encode(TEXTS, batch_size=3), atol=1e-6)


def test_cls_pooling_matches_transformers(tiny_model_dir):
    encoder = TextEncoder(tiny_model_dir, pooling="cls")
    fast = encoder.encode(TEXTS)
    encoder.model
    np.testing.assert_allclose(fast, encoder.encode(TEXTS), atol=1e-6)


def test_trained_network_is_used_once_read(tiny_model_dir):
    import torch

    encoder = TextEncoder(tiny_model_dir)
    before = encoder.encode(TEXTS[:2])
    with torch.no_grad():
        encoder.model.embeddings.word_embeddings.weight.mul_(2.0)  # as a training step would change it
    assert not np.allclose(before, encoder.encode(TEXTS[:2]), atol=1e-3)


def test_other_architectures_go_through_transformers(tiny_model_dir, tmp_path):
    copy = tmp_path / "relu-bert"
    shutil.copytree(tiny_model_dir, copy)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "hidden_act": "relu"}))
    assert bert.load(copy, 25) is None
    encoder = TextEncoder(copy)
    assert encoder._bert is None and encoder.encode(["enlarged heart"]).shape == (1, 32)
    assert bert.load(tiny_model_dir, 25) is not None
    (copy / "config.json").write_text(json.dumps(config))
    tokenizer_config = json.loads((copy / "tokenizer_config.json").read_text())
    (copy / "tokenizer_config.json").write_text(json.dumps({**tokenizer_config, "truncation_side": "left"}))
    assert bert.load(copy, 25) is None
    (copy / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    assert bert.load(copy, 25) is not None
    (copy / "tokenizer.json").unlink()
    assert bert.load(copy, 25) is None  # no tokenizer.json: transformers builds one


def test_encoding_with_a_plain_bert_does_not_import_transformers(tiny_model_dir):
    script = (
        "from clinlink.linking.encoder import TextEncoder\n"
        f"vectors = TextEncoder({str(tiny_model_dir)!r}).encode(['enlarged heart', 'fever'])\n"
        "assert vectors.shape == (2, 32)"
    )
    assert not imports_module(script, "transformers")
