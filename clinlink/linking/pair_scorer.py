"""The cross-encoder network: a BERT encoder reads (mention, candidate) together; mean pooling; a linear score.

:class:`PairScorer` is the trainable torch module (transformers' BERT);
:func:`load_pair_logits` gives the run-time scorer, on the plain-torch BERT of
:mod:`clinlink.linking.bert` when the model is a plain BERT (no transformers
import, which costs seconds of start-up), else on :class:`PairScorer`.

Mean pooling rather than [CLS]: the default base (all-MiniLM-L6-v2) was
trained with mean pooling and its [CLS] vector barely varies between inputs
(std about 0.001 per dimension against 0.1 for the mean), so a [CLS] head
learns nothing in a short run. Files: the encoder as usual
(``config.json``, ``model.safetensors``, tokenizer) plus ``score_head.safetensors``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from clinlink.errors import ConfigError

HEAD_FILE = "score_head.safetensors"


class PairScorer(torch.nn.Module):
    """``forward(**tokenized pairs) -> one logit per pair``."""

    def __init__(self, encoder: torch.nn.Module, head: torch.nn.Linear):
        super().__init__()
        self.encoder = encoder
        self.head = head

    @classmethod
    def from_base(cls, base: str | Path, layers: int | None = None) -> PairScorer:
        """A new scorer over a local base encoder (its first ``layers`` layers only, if given)."""
        from clinlink.linking.weights import from_pretrained

        extra = {"num_hidden_layers": layers} if layers else {}
        try:
            encoder = from_pretrained(base, **extra)
        except (OSError, ValueError) as error:
            raise ConfigError(f"{base}: cannot load the base encoder ({error})") from error
        return cls(encoder, torch.nn.Linear(encoder.config.hidden_size, 1))

    @classmethod
    def load(cls, model_dir: str | Path) -> PairScorer:
        """A trained scorer from ``model_dir`` (local files only)."""
        from safetensors.torch import load_file

        from clinlink.linking.weights import from_pretrained

        model_dir = Path(model_dir)
        try:
            encoder = from_pretrained(model_dir)
            weights = load_file(str(model_dir / HEAD_FILE))
        except (OSError, ValueError) as error:
            raise ConfigError(f"{model_dir}: cannot load the cross-encoder ({error})") from error
        head = torch.nn.Linear(encoder.config.hidden_size, 1)
        head.load_state_dict({name: tensor.float() for name, tensor in weights.items()})
        return cls(encoder, head)

    def forward(self, **batch: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return self.head(pooled)[:, 0]

    def head_weights(self) -> dict[str, torch.Tensor]:
        """The head's tensors in half precision, as saved in :data:`HEAD_FILE`."""
        return {name: tensor.detach().to(torch.float16).contiguous() for name, tensor in self.head.state_dict().items()}


PairLogits = Callable[[Sequence[tuple[str, str]]], list[float]]


def load_pair_logits(model_dir: str | Path, max_length: int, quantize: bool = False) -> PairLogits:
    """A function of (query text, candidate text) pairs -> one logit each, in eval mode without gradients.
    ``quantize``: int8 Linear layers (CPU; see :meth:`clinlink.linking.bert.BertEncoder.quantize`)."""
    from clinlink.linking import bert

    model_dir = Path(model_dir)
    encoder = bert.load(model_dir, max_length)
    if encoder is None:
        return _transformers_pair_logits(model_dir, max_length, quantize)
    if quantize:
        encoder.quantize()
    try:
        from safetensors.torch import load_file

        head = {name: tensor.float() for name, tensor in load_file(str(model_dir / HEAD_FILE)).items()}
    except (OSError, ValueError) as error:
        raise ConfigError(f"{model_dir}: cannot load the cross-encoder's score head ({error})") from error

    def pair_logits(pairs: Sequence[tuple[str, str]]) -> list[float]:
        rows = encoder.pair_ids(list(pairs))
        length = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), length), encoder.pad_id, dtype=torch.long)
        segments = torch.zeros((len(rows), length), dtype=torch.long)
        mask = torch.zeros((len(rows), length), dtype=torch.long)
        for i, (ids, types) in enumerate(rows):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            segments[i, : len(ids)] = torch.tensor(types)
            mask[i, : len(ids)] = 1
        with torch.inference_mode():
            hidden = encoder(input_ids, mask, segments)
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.linear(pooled, head["weight"], head["bias"])[:, 0].tolist()

    return pair_logits


def _transformers_pair_logits(model_dir: Path, max_length: int, quantize: bool = False) -> PairLogits:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError) as error:
        raise ConfigError(f"{model_dir}: cannot load the cross-encoder's tokenizer ({error})") from error
    model = PairScorer.load(model_dir)
    model.eval()
    if quantize:
        from clinlink.linking.bert import quantize_dynamic

        model = quantize_dynamic(model)

    def pair_logits(pairs: Sequence[tuple[str, str]]) -> list[float]:
        batch = tokenizer(
            [query for query, _ in pairs], [text for _, text in pairs],
            truncation="longest_first", max_length=max_length, padding=True, return_tensors="pt",
        )
        with torch.inference_mode():
            return model(**batch).float().tolist()

    return pair_logits
