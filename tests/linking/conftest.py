"""Fixtures of the linking tests: a tiny random BERT and a tiny compiled knowledge base (synthetic)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from clinlink.kb import Concept, KnowledgeBase, Synonym
from clinlink.kb.compiled import CONCEPTS, FORMAT_VERSION, MANIFEST, load_compiled
from clinlink.kb.store import encode_store

WORDS = (
    "heart enlarged large cardio mega ##ly pleural effusion fluid around the lung ##s blood pressure high "
    "hyper ##tension fever seizure kidney renal failure short stature growth of"
).split()


def tiny_concepts() -> list[Concept]:
    """A small HPO-like hierarchy plus two ICD-10-CM codes that share UMLS CUIs with it."""

    def hp(number: str, name: str, parents: list[str], synonyms=(), xrefs=()) -> Concept:
        return Concept(
            id=f"HP:{number}", source="HP", name=name, synonyms=[Synonym(s) for s in synonyms],
            parents=parents, xrefs=list(xrefs), group="DISO",
        )

    return [
        hp("0000001", "All", []),
        hp("0000005", "Mode of inheritance", ["HP:0000001"]),
        hp("0000006", "Autosomal dominant inheritance", ["HP:0000005"]),
        hp("0000118", "Phenotypic abnormality", ["HP:0000001"]),
        hp("0001626", "Abnormality of the cardiovascular system", ["HP:0000118"]),
        hp("0001640", "Cardiomegaly", ["HP:0001626"], ["Enlarged heart", "Large heart"], ["UMLS:C0018800"]),
        hp("0000822", "Hypertension", ["HP:0001626"], ["High blood pressure"], ["UMLS:C0020538"]),
        hp("0002086", "Abnormality of the respiratory system", ["HP:0000118"]),
        hp("0002202", "Pleural effusion", ["HP:0002086"], ["Fluid around the lungs"], ["UMLS:C0032227"]),
        hp("0001945", "Fever", ["HP:0000118"], ["Pyrexia"]),
        hp("0001250", "Seizure", ["HP:0000118"]),
        hp("0000083", "Renal insufficiency", ["HP:0000118"], ["Kidney failure", "Renal failure"]),
        hp("0004322", "Short stature", ["HP:0000118"], ["Growth failure"]),
        Concept(id="HP:0000999", source="HP", name="Old pleural term", obsolete=True, replaced_by="HP:0002202"),
        Concept(
            id="ICD10CM:J90", source="ICD10CM", name="Pleural effusion, not elsewhere classified",
            xrefs=["UMLS:C0032227"], group="DISO",
        ),
        Concept(id="ICD10CM:I10", source="ICD10CM", name="Essential (primary) hypertension", group="DISO"),
        Concept(id="ICD10CM:I51", source="ICD10CM", name="Complications of heart disease", indexed=False),
    ]


def compile_kb(concepts: list[Concept], directory: Path) -> KnowledgeBase:
    """Write ``concepts`` as a compiled KB directory and load it back."""
    directory.mkdir(parents=True, exist_ok=True)
    kb = KnowledgeBase(concepts)
    payload = encode_store(kb, *kb.lookups())
    (directory / CONCEPTS).write_bytes(payload)
    manifest = {
        "format_version": FORMAT_VERSION,
        "name": "tiny",
        "sources": [],
        "counts": {"concepts": len(concepts)},
        "artifacts": {"concepts": {"file": CONCEPTS, "sha256": hashlib.sha256(payload).hexdigest()}},
    }
    (directory / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return load_compiled(directory)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BERT (hidden 32) with a 30-word WordPiece vocabulary, saved locally."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    directory = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *"abcdefghijklmnopqrstuvwxyz"]
    vocab += [f"##{letter}" for letter in "abcdefghijklmnopqrstuvwxyz"]
    (directory / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    BertTokenizer(vocab_file=str(directory / "vocab.txt")).save_pretrained(directory)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(dict.fromkeys(vocab)), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_kb(tmp_path_factory) -> KnowledgeBase:
    return compile_kb(tiny_concepts(), tmp_path_factory.mktemp("tiny-kb"))


@pytest.fixture()
def offline(monkeypatch):
    """No network: the hub is off and any socket connection fails."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
