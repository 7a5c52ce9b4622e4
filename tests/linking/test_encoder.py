import numpy as np
import pytest

from clinlink.errors import ConfigError
from clinlink.linking.encoder import TextEncoder, pooling_of

TEXTS = ["enlarged heart", "fluid around the lungs", "fever", "high blood pressure in the kidney", "seizure"]


def test_loads_local_dir_offline_and_encodes_unit_vectors(tiny_model_dir, offline):
    encoder = TextEncoder(tiny_model_dir)
    vectors = encoder.encode(TEXTS, batch_size=2)
    assert vectors.shape == (len(TEXTS), 32)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_length_sorted_batches_keep_input_order(tiny_model_dir):
    encoder = TextEncoder(tiny_model_dir)
    batched = encoder.encode(TEXTS, batch_size=2)
    one_by_one = np.vstack([encoder.encode([text]) for text in TEXTS])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    assert encoder.encode([]).shape == (0, 32)


def test_pooling_changes_vectors_and_fingerprint(tiny_model_dir):
    mean = TextEncoder(tiny_model_dir, pooling="mean")
    cls = TextEncoder(tiny_model_dir, pooling="cls")
    assert not np.allclose(mean.encode(TEXTS), cls.encode(TEXTS))
    assert mean.fingerprint != cls.fingerprint
    assert mean.fingerprint == TextEncoder(tiny_model_dir).fingerprint  # stable across loads
    assert pooling_of(tiny_model_dir) == "mean"


def test_max_length_truncates(tiny_model_dir):
    short = TextEncoder(tiny_model_dir, max_length=4)
    assert np.allclose(short.encode(["fever seizure heart"]), short.encode(["fever seizure lung"]))


def test_int8_quantization_stays_close(tiny_model_dir):
    full = TextEncoder(tiny_model_dir).encode(TEXTS)
    quantized = TextEncoder(tiny_model_dir, quantize=True).encode(TEXTS)
    assert quantized.shape == full.shape
    assert (np.sum(full * quantized, axis=1) > 0.9).all()


def test_unknown_hub_id_is_not_downloaded(offline):
    with pytest.raises(ConfigError, match="downloads are off"):
        TextEncoder("some-org/not-a-local-model")


def test_bad_pooling_is_refused(tiny_model_dir):
    with pytest.raises(ConfigError, match="pooling"):
        TextEncoder(tiny_model_dir, pooling="max")


def test_int8_runs_on_the_plain_bert_and_changes_the_vectors_only_slightly(tiny_model_dir):
    full = TextEncoder(tiny_model_dir).encode(TEXTS)
    encoder = TextEncoder(tiny_model_dir, quantize=True)
    assert encoder._bert is not None and encoder._bert.packed  # int8 weights, no transformers network
    quantized = encoder.encode(TEXTS)
    assert not np.allclose(full, quantized, atol=1e-6)
    assert (np.sum(full * quantized, axis=1) > 0.99).all()
    assert encoder.fingerprint != TextEncoder(tiny_model_dir).fingerprint  # an index is not shared across them


def test_int8_on_a_gpu_is_a_config_error(tiny_model_dir):
    with pytest.raises(ConfigError, match="CPU only"):
        TextEncoder(tiny_model_dir, quantize=True, device="cuda")
