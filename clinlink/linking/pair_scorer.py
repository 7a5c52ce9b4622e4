"""The cross-encoder network: a BERT encoder reads (mention, candidate) together; mean pooling; a linear score.

Mean pooling rather than [CLS]: the default base (all-MiniLM-L6-v2) was
trained with mean pooling and its [CLS] vector barely varies between inputs
(std about 0.001 per dimension against 0.1 for the mean), so a [CLS] head
learns nothing in a short run. Files: the encoder as usual
(``config.json``, ``model.safetensors``, tokenizer) plus ``score_head.safetensors``.
"""

from __future__ import annotations

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
        from transformers import AutoModel

        extra = {"num_hidden_layers": layers} if layers else {}
        try:
            encoder = AutoModel.from_pretrained(str(base), local_files_only=True, **extra)
        except (OSError, ValueError) as error:
            raise ConfigError(f"{base}: cannot load the base encoder ({error})") from error
        return cls(encoder, torch.nn.Linear(encoder.config.hidden_size, 1))

    @classmethod
    def load(cls, model_dir: str | Path) -> PairScorer:
        """A trained scorer from ``model_dir`` (local files only)."""
        from safetensors.torch import load_file
        from transformers import AutoModel

        model_dir = Path(model_dir)
        try:
            encoder = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
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
