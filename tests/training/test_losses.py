"""Multi-similarity loss and miner on hand-made embeddings."""

from __future__ import annotations

import math

import torch

from clinlink.training.losses import MultiSimilarityLoss, MultiSimilarityMiner, label_masks, multi_similarity


def _unit(*rows: list[float]) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.tensor(rows, dtype=torch.float32), dim=-1)


def test_identical_positives_cost_less_than_dissimilar_ones():
    labels = torch.tensor([0, 0, 1, 1])
    together = _unit([1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0])
    apart = _unit([1, 0, 0], [0, 0, 1], [0, 1, 0], [0.7, 0.7, 0])
    assert multi_similarity(together, labels) < multi_similarity(apart, labels)


def test_loss_matches_the_formula_on_two_anchors():
    # One positive pair with cosine 0.6 and no negative: each anchor pays log(1 + exp(-alpha (s - base))) / alpha.
    embeddings = _unit([1.0, 0.0], [0.6, 0.8])
    loss = MultiSimilarityLoss(alpha=2.0, beta=60.0, base=0.5)
    expected = math.log1p(math.exp(-2.0 * (0.6 - 0.5))) / 2.0
    assert torch.isclose(multi_similarity(embeddings, torch.tensor([7, 7]), loss=loss), torch.tensor(expected))


def test_close_negatives_cost_more_than_far_ones():
    labels = torch.tensor([0, 0, 1])
    close = _unit([1, 0], [1, 0.1], [1, 0.2])
    far = _unit([1, 0], [1, 0.1], [-1, 0])
    assert multi_similarity(close, labels) > multi_similarity(far, labels) + 0.1


def test_mined_pairs_respect_the_margin():
    torch.manual_seed(3)
    embeddings = torch.nn.functional.normalize(torch.randn(24, 8), dim=-1)
    labels = torch.arange(24) % 6
    similarity = embeddings @ embeddings.T
    margin = 0.2
    kept_positive, kept_negative = MultiSimilarityMiner(margin)(similarity, labels)
    positive, negative = label_masks(labels)
    assert kept_negative.any() and kept_positive.any()
    for anchor in range(24):
        hardest_positive = similarity[anchor][positive[anchor]].min()
        hardest_negative = similarity[anchor][negative[anchor]].max()
        for other in range(24):
            s = similarity[anchor, other]
            if negative[anchor, other]:
                assert bool(kept_negative[anchor, other]) == bool(s + margin > hardest_positive)
            elif positive[anchor, other]:
                assert bool(kept_positive[anchor, other]) == bool(s - margin < hardest_negative)
            else:
                assert not kept_positive[anchor, other] and not kept_negative[anchor, other]


def test_easy_batches_mine_nothing_and_cost_nothing():
    labels = torch.tensor([0, 0, 1, 1])
    easy = _unit([1, 0], [1, 0], [0, 1], [0, 1])
    similarity = easy @ easy.T
    kept_positive, kept_negative = MultiSimilarityMiner(0.2)(similarity, labels)
    assert not kept_positive.any() and not kept_negative.any()
    assert multi_similarity(easy, labels, MultiSimilarityMiner(0.2)) == 0


def test_a_gradient_step_pulls_positives_together_and_pushes_negatives_apart():
    torch.manual_seed(0)
    embeddings = torch.randn(8, 6, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    optimizer = torch.optim.SGD([embeddings], lr=0.5)
    positive, negative = label_masks(labels)

    def gap() -> float:
        unit = torch.nn.functional.normalize(embeddings.detach(), dim=-1)
        s = unit @ unit.T
        return float(s[positive].mean() - s[negative].mean())

    before = gap()
    for _ in range(20):
        optimizer.zero_grad()
        multi_similarity(embeddings, labels, MultiSimilarityMiner()).backward()
        optimizer.step()
    assert gap() > before + 0.2
