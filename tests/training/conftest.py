"""Tiny models and a tiny KB for the training tests: everything builds in a second or two."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

from clinlink.kb import KnowledgeBase, build_kb, load_compiled

#: A made-up ontology: HP:9900024 falls in the held-out split, the others do not.
TINY_OBO = """format-version: 1.2
ontology: hp

[Term]
id: HP:9900001
name: Phenotypic abnormality

[Term]
id: HP:9900002
name: Heart enlargement
synonym: "Big heart" EXACT []
synonym: "Enlarged cardiac silhouette" EXACT []
is_a: HP:9900001 ! Phenotypic abnormality

[Term]
id: HP:9900003
name: Fluid around the lung
synonym: "Wet lung lining" EXACT []
synonym: "Lung lining fluid" EXACT []
is_a: HP:9900001 ! Phenotypic abnormality

[Term]
id: HP:9900004
name: Short fingers
synonym: "Stubby fingers" EXACT []
synonym: "Fingers too short" EXACT []
is_a: HP:9900001 ! Phenotypic abnormality

[Term]
id: HP:9900005
name: Long toes
synonym: "Elongated toes" EXACT []
synonym: "Toes too long" EXACT []
is_a: HP:9900001 ! Phenotypic abnormality

[Term]
id: HP:9900006
name: Pale skin
synonym: "Skin pallor" EXACT []
synonym: "Whitish skin" EXACT []
is_a: HP:9900001 ! Phenotypic abnormality

[Term]
id: HP:9900007
name: Slow heartbeat
synonym: "Low pulse" EXACT []
synonym: "Slow pulse" EXACT []
is_a: HP:9900001 ! Phenotypic abnormality

[Term]
id: HP:9900024
name: Blue lips
synonym: "Lip cyanosis" EXACT []
synonym: "Bluish lips" EXACT []
is_a: HP:9900001 ! Phenotypic abnormality
"""


@pytest.fixture(scope="session")
def tiny_kb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compiled KB of the tiny ontology above."""
    folder = tmp_path_factory.mktemp("tiny_kb")
    (folder / "tiny.obo").write_text(TINY_OBO, encoding="utf-8")
    config = folder / "tiny.yaml"
    config.write_text("name: tiny\nsources:\n  - name: hpo\n    type: obo\n    path: tiny.obo\n", encoding="utf-8")
    return build_kb(config, folder / "compiled")


@pytest.fixture(scope="session")
def tiny_kb(tiny_kb_dir: Path) -> KnowledgeBase:
    return load_compiled(tiny_kb_dir)


def _tiny_tokenizer(folder: Path):
    from transformers import BertTokenizerFast

    letters = list(string.ascii_lowercase + string.digits)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *(f"##{c}" for c in letters), *"|;[],.:-()"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True)


def _tiny_config(vocab_size: int, **extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        **extra,
    )


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer BERT (hidden 32, character vocabulary) with mean pooling declared."""
    import torch
    from transformers import BertModel

    folder = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = _tiny_tokenizer(folder)
    torch.manual_seed(0)
    BertModel(_tiny_config(len(tokenizer))).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def tiny_cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised pair scorer (tiny BERT + linear head with a wide init, so logits differ)."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertModel

    from clinlink.linking.pair_scorer import HEAD_FILE, PairScorer

    folder = tmp_path_factory.mktemp("tiny_cross_encoder")
    tokenizer = _tiny_tokenizer(folder)
    torch.manual_seed(0)
    scorer = PairScorer(BertModel(_tiny_config(len(tokenizer))), torch.nn.Linear(32, 1))
    torch.nn.init.normal_(scorer.head.weight, std=1.0)
    scorer.encoder.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    save_file(scorer.head_weights(), str(folder / HEAD_FILE))
    return folder
