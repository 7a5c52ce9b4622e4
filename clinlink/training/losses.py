"""Multi-similarity loss with in-batch hard-pair mining (Wang et al. 2019), as SapBERT trains with it.

Both work on cosine similarities of L2-normalised embeddings; two rows are a
positive pair when their labels (concept ids) are equal.

* The **miner** keeps, for each anchor, the negatives that are harder than its
  easiest positive by less than ``margin`` (``s_neg + margin > min s_pos``) and
  the positives that are easier than its hardest negative by less than
  ``margin`` (``s_pos - margin < max s_neg``).
* The **loss** of an anchor with kept positives P and negatives N is
  ``1/alpha * log(1 + sum_P exp(-alpha (s - base))) + 1/beta * log(1 + sum_N exp(beta (s - base)))``,
  averaged over the anchors of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def label_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) boolean masks over pairs of rows; the diagonal is in neither."""
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


@dataclass(frozen=True)
class MultiSimilarityMiner:
    """Hard positive and negative pairs of a batch (SapBERT: ``margin=0.2``)."""

    margin: float = 0.2

    def __call__(self, similarity: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Masks of the kept (positive, negative) pairs, given the batch's similarity matrix."""
        positive, negative = label_masks(labels)
        inf = torch.finfo(similarity.dtype).max
        hardest_positive = similarity.masked_fill(~positive, inf).min(dim=1, keepdim=True).values
        hardest_negative = similarity.masked_fill(~negative, -inf).max(dim=1, keepdim=True).values
        kept_negative = negative & (similarity + self.margin > hardest_positive)
        kept_positive = positive & (similarity - self.margin < hardest_negative)
        return kept_positive, kept_negative


@dataclass(frozen=True)
class MultiSimilarityLoss:
    """SapBERT's setting: ``alpha=1`` (positive scale), ``beta=60`` (negative scale), ``base=0.5``."""

    alpha: float = 1.0
    beta: float = 60.0
    base: float = 0.5

    def __call__(self, similarity: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        positive_term = _log1p_sum_exp(-self.alpha * (similarity - self.base), positive) / self.alpha
        negative_term = _log1p_sum_exp(self.beta * (similarity - self.base), negative) / self.beta
        return (positive_term + negative_term).mean()


def _log1p_sum_exp(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Row-wise ``log(1 + sum over masked entries of exp(values))``, stable; 0 for rows with no entry."""
    masked = values.masked_fill(~mask, float("-inf"))
    zero = torch.zeros(values.shape[0], 1, dtype=values.dtype, device=values.device)
    return torch.logsumexp(torch.cat([zero, masked], dim=1), dim=1)


def multi_similarity(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    miner: MultiSimilarityMiner | None = None,
    loss: MultiSimilarityLoss | None = None,
) -> torch.Tensor:
    """The MS loss of a batch of embeddings over its mined pairs (no miner: all pairs)."""
    unit = torch.nn.functional.normalize(embeddings, dim=-1)
    similarity = unit @ unit.T
    loss = loss or MultiSimilarityLoss()
    if miner is None:
        positive, negative = label_masks(labels)
    else:
        with torch.no_grad():
            positive, negative = miner(similarity.detach(), labels)
    return loss(similarity, positive, negative)
