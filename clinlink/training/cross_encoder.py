"""Cross-encoder (reranker) training: listwise softmax over retrieval candidate lists built from KB names.

A training query is a name of a (non-held-out) concept; the retriever lists
the top ``top_k`` concepts for it with that name itself hidden from the
index, so the list holds the hard negatives the reranker meets at run time.
The gold concept is put in when retrieval missed it. The query name is hidden
from every candidate's text too, so the model cannot win by string identity.
Only the hard lists are kept (gold not first, or first by less than
``hard_margin``): the gate sends only such lists to the reranker at run time.
Half of the queries get a templated context sentence (``contexts.yaml``).
Loss: cross-entropy of the softmax over each list's logits against the gold.
``layers`` keeps only the base's first layers (a smaller, faster reranker on
a CPU). After training, the gate margin and fusion weight are calibrated on
held-out synonyms (:mod:`clinlink.training.calibrate`) and saved with the model.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from clinlink.errors import ConfigError
from clinlink.kb import KnowledgeBase
from clinlink.linking.encoder import TextEncoder, default_model_dir
from clinlink.linking.candidates import Candidate
from clinlink.linking.linker import Linker
from clinlink.linking.pair_scorer import HEAD_FILE, PairScorer
from clinlink.linking.rerank import (
    SETTINGS_FILE,
    CrossEncoderReranker,
    candidate_text,
    context_window,
    mention_text,
    read_settings,
)
from clinlink.text.normalize import normalize
from clinlink.training.calibrate import calibrate, held_out_queries
from clinlink.training.export import save_fp16, weight_files
from clinlink.training.loop import Progress, Trainer, TrainingReport, TrainingSettings, prepare
from clinlink.training.pairs import training_concepts

TEMPLATES_FILE = Path(__file__).with_name("contexts.yaml")


@dataclass(frozen=True)
class CrossEncoderSettings:
    sources: tuple[str, ...] = ("HP",)
    batch_size: int = 4
    top_k: int = 16
    max_length: int = 64
    synonyms: int = 3
    context_words: int = 8
    context_share: float = 0.5
    max_queries: int | None = None
    layers: int | None = None
    hard_margin: float | None = 0.2
    head_learning_rate: float = 1e-3
    calibration_queries: int = 400
    index_cache: Path | None = None
    training: TrainingSettings = field(default_factory=TrainingSettings)


@dataclass(frozen=True)
class RerankExample:
    """One candidate list: the query text, each candidate's text, and the gold's position."""

    query: str
    candidates: list[str]
    gold: int


def training_queries(kb: KnowledgeBase, sources: Sequence[str], seed: int, limit: int | None) -> list[tuple[str, str]]:
    """(name, concept id) of every name of a training concept with two or more names, shuffled."""
    queries = [(name, c.id) for c in training_concepts(kb, sources) if len(c.names) > 1 for name in c.names]
    random.Random(seed).shuffle(queries)
    return queries[:limit] if limit else queries


def mine_lists(linker: Linker, queries: Sequence[tuple[str, str]], top_k: int) -> list[list[Candidate]]:
    """Top ``top_k`` candidates per query with the query's own name rows excluded."""
    table = linker.table
    exclude = [
        {row for row in table.rows_by_normalized.get(normalize(name), []) if table.concept_ids[row] == concept_id}
        for name, concept_id in queries
    ]
    return linker.retrieve([name for name, _ in queries], top_k, exclude=exclude)


def is_hard(candidates: list[Candidate], gold: str, margin: float | None) -> bool:
    """True when retrieval misses the gold at top 1 or wins by less than ``margin`` (None: every list)."""
    if margin is None or not candidates or candidates[0].concept_id != gold:
        return True
    return len(candidates) > 1 and candidates[0].score - candidates[1].score < margin


def build_examples(
    kb: KnowledgeBase,
    queries: Sequence[tuple[str, str]],
    lists: Sequence[list[Candidate]],
    settings: CrossEncoderSettings,
    rng: random.Random,
) -> list[RerankExample]:
    """Examples of the hard lists, the gold inserted (replacing the last candidate) where retrieval missed it."""
    templates = yaml.safe_load(TEMPLATES_FILE.read_text(encoding="utf-8"))["templates"]
    examples = []
    for (name, gold), candidates in zip(queries, lists):
        if not is_hard(candidates, gold, settings.hard_margin):
            continue
        ids = [c.concept_id for c in candidates[: settings.top_k]]
        if gold not in ids:
            ids = ids[: settings.top_k - 1] + [gold]
        if len(ids) < 2:
            continue
        window = ""
        if rng.random() < settings.context_share:
            window = context_window(name, rng.choice(templates).format(mention=name), settings.context_words)
        texts = [candidate_text(kb.get(c), kb, settings.synonyms, hide=name) for c in ids]
        examples.append(RerankExample(mention_text(name, window), texts, ids.index(gold)))
    return examples


class ListwiseCrossEncoder(torch.nn.Module):
    """A :class:`PairScorer` scored listwise: cross-entropy of each list's softmax vs. its gold."""

    def __init__(self, network: PairScorer, tokenizer: Any, max_length: int, head_learning_rate: float):
        super().__init__()
        self.network = network
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.head_learning_rate = head_learning_rate

    def parameter_groups(self, learning_rate: float) -> list[dict[str, Any]]:
        """The encoder at ``learning_rate``; the new linear scoring head at ``head_learning_rate``.

        A fresh head at an encoder's learning rate barely moves in a short CPU run
        (AdamW steps are about ``lr`` per weight), so the lists stay uniform.
        """
        return [
            {"params": list(self.network.encoder.parameters()), "lr": learning_rate},
            {"params": list(self.network.head.parameters()), "lr": self.head_learning_rate},
        ]

    def forward(self, examples: Sequence[RerankExample]) -> torch.Tensor:
        firsts = [e.query for e in examples for _ in e.candidates]
        seconds = [text for e in examples for text in e.candidates]
        batch = self.tokenizer(
            firsts, seconds, truncation="longest_first", max_length=self.max_length, padding=True, return_tensors="pt"
        )
        logits = self.network(**batch)
        losses = [
            torch.nn.functional.cross_entropy(part.unsqueeze(0), torch.tensor([e.gold]))
            for part, e in zip(torch.split(logits, [len(e.candidates) for e in examples]), examples)
        ]
        return torch.stack(losses).mean()


def train_cross_encoder(
    kb: KnowledgeBase,
    base: str | Path,
    out: Path,
    settings: CrossEncoderSettings = CrossEncoderSettings(),
    retriever: str | Path | None = None,
    progress: Progress | None = None,
) -> tuple[TrainingReport, dict[str, Any]]:
    """Mine candidate lists with ``retriever`` (default: the default bi-encoder), train, save to ``out``."""
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    prepare(settings.training)
    rng = random.Random(settings.training.seed)
    queries = training_queries(kb, settings.sources, settings.training.seed, settings.max_queries)
    retriever_dir = Path(retriever) if retriever is not None else default_model_dir()
    linker = retriever_linker(kb, settings.sources, retriever_dir, settings.index_cache)
    lists = mine_lists(linker, queries, settings.top_k)
    examples = build_examples(kb, queries, lists, settings, rng)
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    network = PairScorer.from_base(base, settings.layers)
    model = ListwiseCrossEncoder(network, tokenizer, settings.max_length, settings.head_learning_rate)
    batches = [examples[i : i + settings.batch_size] for i in range(0, len(examples), settings.batch_size)]
    report = Trainer(model, model, settings.training).fit(batches, progress)
    save_fp16(network.encoder, tokenizer, out)
    save_file(network.head_weights(), str(Path(out) / HEAD_FILE), metadata={"format": "pt"})
    (Path(out) / HEAD_FILE).chmod(0o644)
    files = weight_files(out)
    inputs = {
        "max_length": settings.max_length, "synonyms": settings.synonyms, "context_words": settings.context_words, "top_k": settings.top_k,
    }
    settings_path = Path(out) / SETTINGS_FILE
    settings_path.write_text(json.dumps(inputs, indent=2) + "\n", encoding="utf-8")
    summary: dict[str, Any] = {
        "queries_mined": len(queries),
        "hard_lists_kept": len(examples),
        "queries_seen": min(len(examples), report.steps * settings.batch_size),
        "retrieval_top1_on_training_queries": _share(lists, queries, lambda ids, gold: ids[:1] == [gold]),
        "gold_in_top_k": _share(lists, queries, lambda ids, gold: gold in ids),
        "retriever": str(retriever_dir),
        "base": str(base),
        "files": files,
    }
    if settings.calibration_queries:
        summary["calibration"] = calibrate_saved(kb, linker, out, settings.sources, settings.calibration_queries, settings.training.seed)
    return report, summary


def retriever_linker(kb: KnowledgeBase, sources: Sequence[str], retriever: Path, index_cache: Path | None) -> Linker:
    """The linker that mines training lists and calibrates: ``retriever`` over the ``sources`` concepts only."""
    scope = KnowledgeBase(kb.filter(sources=sources))
    if not len(scope):
        raise ConfigError(f"no concepts of {', '.join(sources)} in this KB ({kb.path or 'built in memory'})")
    return Linker.from_kb(scope, encoder=TextEncoder(retriever), cache_dir=index_cache)


def calibrate_saved(
    kb: KnowledgeBase, linker: Linker, model_dir: Path, sources: Sequence[str], queries: int, seed: int,
    top_k: int | None = None, quantize: bool | None = None,
) -> dict[str, Any]:
    """Calibrates the reranker saved in ``model_dir`` (its lists ``top_k`` long, int8 with ``quantize``; default:
    as saved) on ``queries`` held-out synonyms and writes the chosen settings into its ``reranker.json``;
    returns the choice."""
    reranker = CrossEncoderReranker(kb, model_dir, top_k=top_k, quantize=quantize)
    held_out = held_out_queries(linker, sources, queries, seed)
    if not held_out:
        raise ConfigError(f"no held-out synonyms of {', '.join(sources)} in this KB to calibrate {model_dir} on")
    calibration = calibrate(reranker, linker, held_out)
    settings_path = Path(model_dir) / SETTINGS_FILE
    inputs = read_settings(Path(model_dir))
    inputs.update(top_k=reranker.top_k, margin=calibration["margin"], weight=calibration["weight"],
                  min_probability=calibration["min_probability"], quantize=reranker.quantize)
    settings_path.write_text(json.dumps(inputs, indent=2) + "\n", encoding="utf-8")
    return {k: v for k, v in calibration.items() if k != "grid"}


def _share(lists: Sequence[list[Candidate]], queries: Sequence[tuple[str, str]], test) -> float:
    hits = sum(test([c.concept_id for c in found], gold) for found, (_, gold) in zip(lists, queries))
    return round(hits / max(1, len(lists)), 4)
