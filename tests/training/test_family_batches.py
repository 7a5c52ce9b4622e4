"""Hierarchy-aware batches of the bi-encoder: siblings share a batch, a parent and child are never negatives."""

from __future__ import annotations

import torch

from clinlink.kb import Concept, KnowledgeBase, Synonym
from clinlink.training.bi_encoder import family_batches
from clinlink.training.losses import multi_similarity
from clinlink.training.pairs import synonym_pairs


def _concept(concept_id: str, names: list[str], parents: list[str]) -> Concept:
    return Concept(id=concept_id, source="HP", name=names[0], synonyms=[Synonym(n) for n in names[1:]], parents=parents)


def _kb() -> KnowledgeBase:
    return KnowledgeBase([
        _concept("HP:9900001", ["Abnormal heart", "Cardiac anomaly"], []),
        _concept("HP:9900002", ["Big heart", "Cardiomegaly"], ["HP:9900001"]),
        _concept("HP:9900003", ["Small heart", "Microcardia"], ["HP:9900001"]),
        _concept("HP:9900005", ["Abnormal liver", "Hepatic anomaly"], []),
        _concept("HP:9900006", ["Big liver", "Hepatomegaly"], ["HP:9900005"]),
    ])


def test_families_share_batches_and_parent_child_pairs_are_related():
    kb = _kb()
    pairs = synonym_pairs(kb, ("HP",))
    batches = family_batches(kb, pairs, batch_size=3, seed=1)
    assert sum(len(texts) for texts, _, _ in batches) == 2 * len(pairs)
    heart_batch = next(batch for batch in batches if "Big heart" in batch[0] or "Cardiomegaly" in batch[0])
    texts, labels, related = heart_batch
    assert {"Small heart", "Microcardia"} & set(texts)  # the sibling is there as a hard negative
    assert related.shape == (len(texts), len(texts)) and related.dtype == torch.bool
    big, parent = texts.index(next(t for t in texts if t in ("Big heart", "Cardiomegaly"))), [
        i for i, t in enumerate(texts) if t in ("Abnormal heart", "Cardiac anomaly")
    ]
    assert parent and all(related[big, i] and related[i, big] for i in parent)
    small = [i for i, t in enumerate(texts) if t in ("Small heart", "Microcardia")]
    assert not any(related[big, i] for i in small)  # siblings stay negatives


def test_related_pairs_are_not_pushed_apart():
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 0.05], [0.9, 0.1], [0.95, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    related = torch.tensor([[a != b for b in labels] for a in labels])
    assert multi_similarity(embeddings, labels, related=related) < multi_similarity(embeddings, labels)
