"""Inference-only BERT encoder in plain torch, for fast start-up of the linker.

Importing transformers' ``BertModel`` takes about 3 s of CPU (it pulls in its
generation, distributed and kernel-hub modules); the linker only needs the
last hidden states of a plain BERT encoder at query time. A model directory
with a BERT ``config.json``, ``model.safetensors`` and ``tokenizer.json`` is
run here with the same weights, tokenizer (the ``tokenizers`` library) and
arithmetic, matching transformers' outputs to float rounding (see
tests/linking/test_bert.py). Anything else returns ``None`` from :func:`load`
and goes through transformers (:class:`~clinlink.linking.encoder.TextEncoder`).
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
TOKENIZER = "tokenizer.json"
LAYER_PARTS = (
    "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
    "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm",
)
LINEAR_PARTS = tuple(part for part in LAYER_PARTS if not part.endswith("LayerNorm"))


def supported(config: dict) -> bool:
    """A plain BERT encoder: absolute positions, exact GELU, no decoder or cross-attention."""
    return (
        config.get("model_type") == "bert"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and config.get("hidden_act") == "gelu"
        and not config.get("is_decoder")
        and not config.get("add_cross_attention")
        and config.get("hidden_size", 0) % max(config.get("num_attention_heads", 0), 1) == 0
    )


class BertEncoder:
    """Token ids in, last hidden states out (eval mode, no gradients)."""

    def __init__(self, config: dict, weights: dict[str, torch.Tensor], tokenizer, max_length: int):
        self.hidden_size = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.pad_id = int(config.get("pad_token_id") or 0)
        self.weights = weights
        self.packed: dict[str, object] = {}  # prepacked int8 Linear weights, once quantized
        self.tokenizer = tokenizer
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length)

    def to(self, device: str) -> BertEncoder:
        if self.packed and device != "cpu":
            raise ValueError("an int8-quantized encoder runs on the CPU only")
        self.weights = {name: tensor.to(device) for name, tensor in self.weights.items()}
        return self

    def quantize(self) -> BertEncoder:
        """Dynamic int8 quantization of the layers' Linear weights (per output row; activations quantized per
        batch, as ``torch.ao.quantization.quantize_dynamic`` does): 3-4x faster products on a CPU, outputs
        within about 1 % (tests/linking/test_encoder.py). CPU only."""
        with warnings.catch_warnings():  # torch's quantized tensors are deprecated but still its CPU int8 path
            warnings.simplefilter("ignore", (DeprecationWarning, UserWarning))
            for layer in range(self.layers):
                for part in LINEAR_PARTS:
                    name = f"encoder.layer.{layer}.{part}"
                    weight = self.weights[f"{name}.weight"]
                    scales = (weight.abs().amax(dim=1) / 127).clamp(min=1e-8).double()
                    zeros = torch.zeros(len(scales), dtype=torch.long)
                    quantized = torch.quantize_per_channel(weight, scales, zeros, 0, torch.qint8)
                    self.packed[name] = torch.ops.quantized.linear_prepack(quantized, self.weights[f"{name}.bias"])
        return self

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Ids with [CLS]/[SEP], truncated to ``max_length`` (as ``tokenizer(texts, truncation=True)``)."""
        return [encoding.ids for encoding in self.tokenizer.encode_batch(list(texts))]

    def pair_ids(self, pairs: list[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
        """(ids, segment ids) of text pairs, ``[CLS] a [SEP] b [SEP]`` truncated longest-first to ``max_length``
        (as ``tokenizer(a, b, truncation="longest_first")``)."""
        return [(encoding.ids, encoding.type_ids) for encoding in self.tokenizer.encode_batch(list(pairs))]

    def __call__(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        w = self.weights
        batch, length = input_ids.shape
        positions = torch.arange(length, device=input_ids.device)
        segments = (
            w["embeddings.token_type_embeddings.weight"][0]
            if token_type_ids is None
            else F.embedding(token_type_ids, w["embeddings.token_type_embeddings.weight"])
        )
        hidden = (
            F.embedding(input_ids, w["embeddings.word_embeddings.weight"])
            + segments
            + F.embedding(positions, w["embeddings.position_embeddings.weight"])
        )
        hidden = self._norm(hidden, "embeddings.LayerNorm")
        mask = attention_mask.bool()[:, None, None, :]
        head_dim = self.hidden_size // self.heads
        for layer in range(self.layers):
            prefix = f"encoder.layer.{layer}."

            def heads(part: str) -> torch.Tensor:
                projected = self._linear(hidden, prefix + part)
                return projected.view(batch, length, self.heads, head_dim).transpose(1, 2)

            context = F.scaled_dot_product_attention(
                heads("attention.self.query"), heads("attention.self.key"), heads("attention.self.value"),
                attn_mask=mask, scale=1.0 / math.sqrt(head_dim),
            )
            context = context.transpose(1, 2).reshape(batch, length, self.hidden_size)
            attended = self._norm(self._linear(context, prefix + "attention.output.dense") + hidden, prefix + "attention.output.LayerNorm")
            inner = F.gelu(self._linear(attended, prefix + "intermediate.dense"))
            hidden = self._norm(self._linear(inner, prefix + "output.dense") + attended, prefix + "output.LayerNorm")
        return hidden

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        packed = self.packed.get(name)
        if packed is not None:
            return torch.ops.quantized.linear_dynamic(x, packed, True)  # reduce_range: no overflow without VNNI
        return F.linear(x, self.weights[f"{name}.weight"], self.weights[f"{name}.bias"])

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, (self.hidden_size,), self.weights[f"{name}.weight"], self.weights[f"{name}.bias"], self.eps)


def quantize_dynamic(network: torch.nn.Module) -> torch.nn.Module:
    """A transformers network with int8 Linear layers (torch's dynamic quantization), for models this module
    does not run."""
    with warnings.catch_warnings():  # torch.ao.quantization is deprecated but still the CPU int8 path
        warnings.simplefilter("ignore", (DeprecationWarning, UserWarning))
        return torch.ao.quantization.quantize_dynamic(network, {torch.nn.Linear}, dtype=torch.qint8)


def required_weights(layers: int) -> list[str]:
    names = [f"embeddings.{part}.weight" for part in ("word_embeddings", "position_embeddings", "token_type_embeddings")]
    names += ["embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"]
    for layer in range(layers):
        for part in LAYER_PARTS:
            names += [f"encoder.layer.{layer}.{part}.weight", f"encoder.layer.{layer}.{part}.bias"]
    return names


def _truncates_left(model_dir: Path) -> bool:
    """A tokenizer config asking for left truncation (this module truncates on the right only)."""
    try:
        settings = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(settings, dict) and settings.get("truncation_side", "right") != "right"


def load(model_dir: Path, max_length: int) -> BertEncoder | None:
    """The model in ``model_dir`` when it is a plain BERT with safetensors weights and a
    ``tokenizer.json``; ``None`` otherwise (the caller then uses transformers)."""
    model_dir = Path(model_dir)
    if not (model_dir / WEIGHTS).is_file() or not (model_dir / TOKENIZER).is_file():
        return None
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict) or not supported(config) or _truncates_left(model_dir):
        return None
    from tokenizers import Tokenizer

    from clinlink.linking.weights import read_weights

    try:
        stored = read_weights(model_dir / WEIGHTS)
        tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER))
    except Exception as error:  # noqa: BLE001 - unreadable files: transformers reports them properly
        log.debug("%s: not loaded as a plain BERT (%s)", model_dir, error)
        return None
    if not any(name.startswith("embeddings.") for name in stored):
        stored = {name.removeprefix("bert."): tensor for name, tensor in stored.items()}
    wanted = required_weights(int(config["num_hidden_layers"]))
    if any(name not in stored for name in wanted):
        return None
    weights = {name: stored[name].float() for name in wanted}
    return BertEncoder(config, weights, tokenizer, max_length)
