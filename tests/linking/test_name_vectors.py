"""Name vectors shipped beside an encoder: used for its own fingerprint only; missing names are encoded."""

import shutil

import numpy as np
import pytest

from clinlink.linking.encoder import TextEncoder
from clinlink.linking.linker import Linker
from clinlink.linking.name_vectors import NAMES_FILE, VECTORS_FILE, name_vectors, save_name_vectors, shipped_vectors

NAMES = ["enlarged heart", "pleural effusion", "high blood pressure", "kidney failure"]


@pytest.fixture()
def model_with_vectors(tiny_model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    save_name_vectors(TextEncoder(copy), NAMES)
    return copy


def test_shipped_vectors_are_the_encoders_own(model_with_vectors):
    encoder = TextEncoder(model_with_vectors)
    shipped = shipped_vectors(encoder)
    assert sorted(shipped) == sorted(NAMES)
    exact = encoder.encode(NAMES)
    for name, vector in zip(NAMES, exact):
        assert np.dot(shipped[name], vector) > 0.9999
        assert abs(np.linalg.norm(shipped[name]) - 1) < 1e-5


def test_names_without_a_shipped_vector_are_encoded(model_with_vectors, monkeypatch):
    encoder = TextEncoder(model_with_vectors)
    encoded = []
    original = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda texts, batch_size=128: encoded.extend(texts) or original(texts, batch_size))
    vectors = name_vectors(encoder, ["pleural effusion", "short stature", "enlarged heart"])
    assert encoded == ["short stature"]
    np.testing.assert_allclose(vectors[1], original(["short stature"])[0], atol=1e-6)
    assert np.dot(vectors[0], original(["pleural effusion"])[0]) > 0.9999


def test_vectors_of_another_encoder_are_ignored(model_with_vectors):
    other = TextEncoder(model_with_vectors, pooling="cls")  # same weights, other vectors
    assert shipped_vectors(other) is None


def test_a_broken_vectors_file_is_ignored_not_fatal(model_with_vectors):
    (model_with_vectors / NAMES_FILE).write_text("[\"only one name\"]", encoding="utf-8")
    assert shipped_vectors(TextEncoder(model_with_vectors)) is None
    (model_with_vectors / VECTORS_FILE).write_bytes(b"not safetensors")
    assert shipped_vectors(TextEncoder(model_with_vectors)) is None


def test_linker_index_takes_shipped_vectors_and_encodes_the_rest(tiny_model_dir, tiny_kb, tmp_path, monkeypatch, capfd):
    from clinlink.linking.names import NameTable

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    names = list(dict.fromkeys(NameTable.from_kb(tiny_kb).names))
    save_name_vectors(TextEncoder(model), names[:5])
    encoder = TextEncoder(model)
    encoded = []
    original = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda texts, batch_size=128: encoded.extend(texts) or original(texts, batch_size))
    linker = Linker.from_kb(tiny_kb, encoder=encoder, cache_dir=tmp_path / "index")
    assert sorted(encoded) == sorted(names[5:])
    assert "building the linker's index" in capfd.readouterr().err  # the one-time step is announced
    assert linker.link(["Cardiomegaly"], k=1)[0][0].concept_id == "HP:0001640"
