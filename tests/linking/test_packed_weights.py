"""int8 rows for large matrices: bounded error, and packed models load alike through both BERT paths."""

import shutil

import numpy as np
import pytest
import torch

from clinlink.linking import bert
from clinlink.linking.encoder import TextEncoder
from clinlink.linking.weights import QUANTIZED, dequantize_rows, is_packed, quantize_rows, read_weights
from clinlink.training.export import pack_matrices

TEXTS = ["enlarged heart", "fluid around the lungs", "high blood pressure", ""]


def test_rows_round_trip_within_half_a_step():
    matrix = torch.randn(50, 16) * torch.linspace(0.01, 3, 50)[:, None]
    matrix[7] = 0
    rows, scales = quantize_rows(matrix)
    assert rows.dtype == torch.int8 and scales.shape == (50,)
    error = (dequantize_rows(rows, scales) - matrix).abs()
    assert torch.all(error <= scales[:, None] / 2 + 1e-7)
    assert torch.all(dequantize_rows(rows, scales)[7] == 0)


@pytest.fixture()
def packed_model_dir(tiny_model_dir, tmp_path):
    copy = tmp_path / "packed"
    shutil.copytree(tiny_model_dir, copy)
    pack_matrices(copy / "model.safetensors")
    return copy


def test_packed_model_file_holds_int8_word_embeddings(packed_model_dir, tiny_model_dir):
    assert is_packed(packed_model_dir / "model.safetensors") and not is_packed(tiny_model_dir / "model.safetensors")
    stored = read_weights(packed_model_dir / "model.safetensors")
    original = read_weights(tiny_model_dir / "model.safetensors")
    assert set(stored) == set(original) and not any(name.endswith(QUANTIZED) for name in stored)
    name = "embeddings.word_embeddings.weight"
    assert torch.allclose(stored[name], original[name].float(), atol=float(original[name].abs().max()) / 127)


def test_packed_model_encodes_alike_in_plain_torch_and_transformers(packed_model_dir, tiny_model_dir):
    encoder = TextEncoder(packed_model_dir)
    assert encoder._bert is not None
    fast = encoder.encode(TEXTS)
    encoder.model  # the transformers network, loaded from the packed file
    np.testing.assert_allclose(fast, encoder.encode(TEXTS), atol=1e-6)
    unpacked = TextEncoder(tiny_model_dir).encode(TEXTS)
    assert np.min(np.sum(fast * unpacked, axis=1)) > 0.999  # int8 embeddings barely move the vectors
    assert bert.load(packed_model_dir, 25) is not None
