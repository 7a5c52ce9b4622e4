"""SapBERT-style bi-encoder training: in-batch multi-similarity loss over KB synonym pairs.

Model, loss and loop are separate (as in sentence-transformers): the model is
the :class:`~clinlink.linking.encoder.TextEncoder`'s network made trainable,
the loss :mod:`clinlink.training.losses`, the loop :class:`~clinlink.training.loop.Trainer`.
Each batch holds ``batch_size`` pairs; both names of every pair are encoded
and labelled with their concept, and the miner picks the hard pairs among all
``2 * batch_size`` rows.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from clinlink.kb import KnowledgeBase
from clinlink.linking.encoder import TextEncoder
from clinlink.training.export import save_fp16
from clinlink.training.loop import Progress, Trainer, TrainingReport, TrainingSettings, prepare
from clinlink.training.losses import MultiSimilarityLoss, MultiSimilarityMiner, multi_similarity
from clinlink.training.pairs import MAX_PAIRS_PER_CONCEPT, NamePair, synonym_pairs

POOLING_DIR = "1_Pooling"


@dataclass(frozen=True)
class BiEncoderSettings:
    """SapBERT's recipe, scaled to a CPU: max_length 25, MS loss (1, 60, 0.5), miner margin 0.2."""

    sources: tuple[str, ...] = ("HP",)
    max_pairs_per_concept: int = MAX_PAIRS_PER_CONCEPT
    paraphrase: bool = False
    batch_size: int = 64
    max_length: int = 25
    pooling: str | None = None
    miner_margin: float = 0.2
    alpha: float = 1.0
    beta: float = 60.0
    base: float = 0.5
    training: TrainingSettings = field(default_factory=TrainingSettings)


class TrainableEncoder(torch.nn.Module):
    """A :class:`TextEncoder`'s network and pooling with gradients on: names in, pooled vectors out."""

    def __init__(self, encoder: TextEncoder):
        super().__init__()
        self.encoder = encoder
        self.network = encoder.model

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        batch = self.encoder.tokenizer(
            list(texts), truncation=True, max_length=self.encoder.max_length, padding=True, return_tensors="pt"
        )
        hidden = self.network(**batch).last_hidden_state
        if self.encoder.pooling == "cls":
            return hidden[:, 0]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def save(self, out: Path) -> dict[str, dict[str, Any]]:
        """fp16 safetensors + tokenizer + the pooling declaration :class:`TextEncoder` reads back."""
        files = save_fp16(self.network, self.encoder.tokenizer, out)
        pooling = Path(out) / POOLING_DIR
        pooling.mkdir(exist_ok=True)
        declaration = {
            "word_embedding_dimension": self.encoder.dim,
            "pooling_mode_cls_token": self.encoder.pooling == "cls",
            "pooling_mode_mean_tokens": self.encoder.pooling == "mean",
        }
        (pooling / "config.json").write_text(json.dumps(declaration, indent=2) + "\n", encoding="utf-8")
        return files


def pair_batches(
    pairs: Sequence[NamePair], batch_size: int, seed: int = 42, bucket: int = 50
) -> list[tuple[list[str], torch.Tensor]]:
    """Batches of ``(texts, labels)``: the first names, then the second names, labels by concept.

    Within each run of ``bucket`` batches, pairs are grouped by length, so a
    batch pads little (names vary from 1 to 25 tokens: about half the CPU time
    otherwise goes to padding); the batch order is then shuffled with ``seed``.
    """
    batches = []
    span = batch_size * bucket
    for begin in range(0, len(pairs), span):
        run = sorted(pairs[begin : begin + span], key=lambda pair: max(len(pair.first), len(pair.second)))
        for start in range(0, len(run), batch_size):
            chunk = run[start : start + batch_size]
            label_of: dict[str, int] = {}
            labels = [label_of.setdefault(pair.concept_id, len(label_of)) for pair in chunk]
            texts = [pair.first for pair in chunk] + [pair.second for pair in chunk]
            batches.append((texts, torch.tensor(labels + labels)))
    random.Random(seed).shuffle(batches)
    return batches


def train_bi_encoder(
    kb: KnowledgeBase,
    base: str | Path,
    out: Path,
    settings: BiEncoderSettings = BiEncoderSettings(),
    progress: Progress | None = None,
) -> tuple[TrainingReport, dict[str, Any]]:
    """Fine-tune ``base`` on ``kb``'s synonym pairs and save it to ``out``; (report, data/weight summary)."""
    prepare(settings.training)
    pairs = synonym_pairs(kb, settings.sources, settings.max_pairs_per_concept, settings.training.seed, settings.paraphrase)
    encoder = TextEncoder(base, pooling=settings.pooling, max_length=settings.max_length)
    model = TrainableEncoder(encoder)
    miner = MultiSimilarityMiner(settings.miner_margin)
    loss = MultiSimilarityLoss(settings.alpha, settings.beta, settings.base)

    def step_loss(batch: tuple[list[str], torch.Tensor]) -> torch.Tensor:
        texts, labels = batch
        return multi_similarity(model(texts), labels, miner, loss)

    report = Trainer(model, step_loss, settings.training).fit(
        pair_batches(pairs, settings.batch_size, settings.training.seed), progress
    )
    files = model.save(out)
    summary = {
        "pairs": len(pairs),
        "concepts": len({pair.concept_id for pair in pairs}),
        "pairs_seen": min(len(pairs), report.steps * settings.batch_size),
        "pooling": encoder.pooling,
        "base": str(encoder.model_dir),
        "files": files,
    }
    return report, summary
