"""Cross-encoder reranking of retrieval candidates, gated by the retrieval margin, cached per phrase.

Input of one (mention, candidate) pair: segment A is the mention, then ``|``
and a window of ``context_words`` words either side of it in its context;
segment B is the candidate's preferred name, a few synonyms, its semantic
type and its parent's name (:func:`candidate_text`). The model
(:class:`~clinlink.linking.pair_scorer.PairScorer`, see ``clinlink train
cross-encoder``) gives one logit per pair; a softmax over the candidate list
turns them into ``p``.

Gate: a list is reranked only when its top candidate is not safe, i.e. not an
exact name match and ``top1 - top2`` retrieval score below ``margin``.

Final score of candidate ``i`` (``r``: retrieval score, ``w``: ``weight``):
``(1 - w) * r_i + w * p_i * max(r)``. The reranker moves confidence inside the
list but never lifts it above the list's best retrieval score, so the
linker's NIL threshold keeps its meaning. With ``min_probability`` set, the
cross-encoder overrides retrieval only where it is confident: a list is
reordered by ``p`` alone (``w`` = 1) when ``p`` of a candidate other than
retrieval's first is at least ``min_probability``, and keeps retrieval's
order and scores otherwise (``rerank_score`` is set either way).

Cache: an LRU on (mention, context window) holding each scored concept's
logit, so a repeated phrase costs no model call.
"""

from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from clinlink.errors import ConfigError
from clinlink.kb import Concept, KnowledgeBase
from clinlink.linking.candidates import Candidate
from clinlink.linking.encoder import model_dir

log = logging.getLogger(__name__)

#: The packaged trained cross-encoder (``clinlink/resources/models/cross-encoder``).
DEFAULT_CROSS_ENCODER = "cross-encoder"
#: Settings saved beside the weights: the input format and list length (so training and run time
#: build the same lists) and the gate ``margin`` and fusion ``weight`` calibrated on held-out synonyms.
SETTINGS_FILE = "reranker.json"
#: (mention, candidate) pairs per forward pass.
PAIR_BATCH = 64
DEFAULT_SETTINGS = {
    "max_length": 64, "synonyms": 3, "context_words": 8, "top_k": 16, "margin": 0.1, "weight": 0.5, "min_probability": None,
    "quantize": False,
}


def context_window(mention: str, context: str | None, words: int) -> str:
    """Up to ``words`` words either side of the mention's first occurrence in ``context`` (case-insensitive).

    The mention itself is kept in the window; a context that does not contain
    the mention gives its first ``2 * words`` words.
    """
    if not context or words <= 0:
        return ""
    found = re.search(re.escape(mention), context, flags=re.IGNORECASE) if mention else None
    if found is None:
        return " ".join(context.split()[: 2 * words])
    before = context[: found.start()].split()[-words:]
    after = context[found.end() :].split()[:words]
    return " ".join([*before, context[found.start() : found.end()], *after])


def mention_text(mention: str, window: str) -> str:
    return f"{mention} | {window}" if window else mention


def candidate_text(concept: Concept, kb: KnowledgeBase, synonyms: int = 3, hide: str | None = None) -> str:
    """Preferred name, up to ``synonyms`` other names (never ``hide``), semantic type and first parent."""
    hidden = hide.lower() if hide else None
    names = [name for name in concept.names if name.lower() != hidden]
    parts = [" ; ".join(names[: 1 + synonyms])]
    facts = []
    if concept.semantic_types:
        facts.append(concept.semantic_types[0])
    parent = next((kb.find(p) for p in concept.parents if kb.find(p) is not None), None)
    if parent is not None:
        facts.append(f"is a {parent.name}")
    if facts:
        parts.append(f"[{'; '.join(facts)}]")
    return " ".join(parts)


def read_settings(model_dir: Path) -> dict[str, Any]:
    """:data:`DEFAULT_SETTINGS` updated from the model's ``reranker.json``; a malformed file is a :class:`ConfigError`."""
    path = Path(model_dir) / SETTINGS_FILE
    settings = dict(DEFAULT_SETTINGS)
    if path.is_file():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ConfigError(f"{path}: cannot read the reranker settings ({error})") from error
        if not isinstance(saved, dict):
            raise ConfigError(f"{path}: expected a JSON object of reranker settings")
        settings.update(saved)
    return settings


def fusion_weight(probabilities: np.ndarray, weight: float, min_probability: float | None) -> float | None:
    """The weight to fuse a list's scores with, or None where the confidence gate keeps retrieval's list
    (see the module docstring)."""
    if min_probability is None:
        return weight
    best = int(np.argmax(probabilities))
    return 1.0 if best != 0 and probabilities[best] >= min_probability else None


def fused_scores(retrieval: np.ndarray, probabilities: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - w) * r + w * p * max(r)`` (see the module docstring)."""
    return (1 - weight) * retrieval + weight * probabilities * retrieval.max()


class CrossEncoderReranker:
    """Implements :class:`~clinlink.linking.candidates.Reranker` with a local cross-encoder.

    ``model``: a directory or a packaged model's name (default: the packaged ``cross-encoder``), loaded with
    ``local_files_only=True``. ``kb`` supplies candidates' synonyms and parents.
    ``top_k`` / ``margin`` / ``weight`` / ``min_probability`` / ``quantize``: None takes the values saved with
    the model (``top_k``: the list length it was trained on; ``quantize``: int8 Linear layers on the CPU,
    3-4x faster; see the module docstring for the others).
    ``model_calls`` counts forward passes (the cache saves them).
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        model: str | Path | None = None,
        top_k: int | None = None,
        margin: float | None = None,
        weight: float | None = None,
        min_probability: float | None = None,
        quantize: bool | None = None,
        cache_size: int = 4096,
        threads: int | None = None,
    ):
        import torch

        from clinlink.linking.pair_scorer import load_pair_logits

        self.model_dir = model_dir(model if model is not None else DEFAULT_CROSS_ENCODER)
        if self.model_dir is None:
            raise ConfigError(f"{model}: no cross-encoder here; train one with 'clinlink train cross-encoder'")
        if threads:
            torch.set_num_threads(threads)
        self.inputs = read_settings(self.model_dir)
        self.quantize = self.inputs["quantize"] if quantize is None else quantize
        if not isinstance(self.quantize, bool):  # bool("false") would be True
            raise ConfigError(f"{self.model_dir / SETTINGS_FILE}: 'quantize' must be true or false, not {self.quantize!r}")
        self.pair_logits = load_pair_logits(self.model_dir, int(self.inputs["max_length"]), self.quantize)
        self.kb = kb
        self.top_k = int(self.inputs["top_k"] if top_k is None else top_k)
        self.margin = float(self.inputs["margin"] if margin is None else margin)
        self.weight = float(self.inputs["weight"] if weight is None else weight)
        saved = self.inputs["min_probability"] if min_probability is None else min_probability
        self.min_probability = None if saved is None else float(saved)
        self.cache_size = cache_size
        self.model_calls = 0
        self._cache: OrderedDict[tuple[str, str], dict[str, float]] = OrderedDict()
        self._texts: dict[str, str] = {}

    # -- the Reranker protocol ----------------------------------------------
    def should_rerank(self, mention: str, candidates: list[Candidate]) -> bool:
        """True when the top candidate is not safe: no exact name and a retrieval margin below ``margin``."""
        if len(candidates) < 2 or candidates[0].exact:
            return False
        return candidates[0].score - candidates[1].score < self.margin

    def rerank(
        self, mentions: Sequence[str], contexts: Sequence[str | None], lists: Sequence[list[Candidate]]
    ) -> list[list[Candidate]]:
        """Each list's top ``top_k`` rescored and reordered (``rerank_score`` = p), then the rest as they were.

        The pairs of all lists missing from the cache are scored together, in batched forward passes.
        """
        heads = [candidates[: self.top_k] for candidates in lists]
        logits = self.logits_many([(m, c, [x.concept_id for x in head]) for m, c, head in zip(mentions, contexts, heads)])
        return [
            self._fuse(head, np.asarray(scores, dtype=np.float64)) + candidates[self.top_k :] if head else list(candidates)
            for head, scores, candidates in zip(heads, logits, lists)
        ]

    def _fuse(self, head: list[Candidate], logits: np.ndarray) -> list[Candidate]:
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        weight = fusion_weight(probabilities, self.weight, self.min_probability)
        if weight is None:  # not confident enough to override: retrieval's list, with p for the record
            return [replace(c, rerank_score=float(p)) for c, p in zip(head, probabilities)]
        final = fused_scores(np.asarray([c.score for c in head], dtype=np.float64), probabilities, weight)
        rescored = [
            replace(c, score=float(score), rerank_score=float(p), retrieved_by="rerank")
            for c, score, p in zip(head, final, probabilities)
        ]
        rescored.sort(key=lambda c: c.score, reverse=True)
        return rescored

    # -- scoring ------------------------------------------------------------
    def logits(self, mention: str, context: str | None, concept_ids: list[str]) -> list[float]:
        """One logit per concept for this mention in this context; cached per (mention, window)."""
        return self.logits_many([(mention, context, concept_ids)])[0]

    def logits_many(self, requests: Sequence[tuple[str, str | None, list[str]]]) -> list[list[float]]:
        """:meth:`logits` of several (mention, context, concept ids) requests; uncached pairs share forward passes."""
        entries = []
        missing: dict[tuple[int, str], tuple[dict[str, float], str]] = {}
        for mention, context, concept_ids in requests:
            window = context_window(mention, context, int(self.inputs["context_words"]))
            known = self._cached((mention, window))
            entries.append((known, concept_ids))
            query = mention_text(mention, window)
            for concept_id in concept_ids:
                if concept_id not in known:
                    missing.setdefault((id(known), concept_id), (known, query))
        if missing:
            pairs = [(query, concept_id) for (_, concept_id), (_, query) in missing.items()]
            for ((_, concept_id), (known, _)), logit in zip(missing.items(), self.score_pairs(pairs)):
                known[concept_id] = logit
        return [[known[c] for c in concept_ids] for known, concept_ids in entries]

    def _cached(self, key: tuple[str, str]) -> dict[str, float]:
        """The cache entry (concept -> logit) of a (mention, window), created if new; LRU order updated."""
        known = self._cache.get(key)
        if known is None:
            known = self._cache[key] = {}
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return known

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Model logits of (query text, concept id) pairs, ``PAIR_BATCH`` per forward pass (similar lengths together)."""
        texts = [(query, self._candidate_text(concept_id)) for query, concept_id in pairs]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i][0]) + len(texts[i][1]))
        logits = [0.0] * len(texts)
        for start in range(0, len(order), PAIR_BATCH):
            chunk = order[start : start + PAIR_BATCH]
            self.model_calls += 1
            for i, logit in zip(chunk, self.pair_logits([texts[i] for i in chunk])):
                logits[i] = logit
        return logits

    def _candidate_text(self, concept_id: str) -> str:
        text = self._texts.get(concept_id)
        if text is None:
            text = self._texts[concept_id] = candidate_text(self.kb.get(concept_id), self.kb, int(self.inputs["synonyms"]))
        return text
