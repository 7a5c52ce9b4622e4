"""The training loop shared by the bi-encoder and the cross-encoder: AdamW, bounded in steps and minutes.

The model and its loss come in as one ``step_loss(batch) -> loss`` function,
so the loop knows nothing of either; progress goes to a callback (the CLI
draws a progress bar with it).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import torch

Batch = TypeVar("Batch")
#: ``progress(step, total_steps, loss)`` after every optimizer step.
Progress = Callable[[int, int, float], None]


@dataclass(frozen=True)
class TrainingSettings:
    """Optimizer and bounds. SapBERT: ``lr=2e-5``, weight decay 0.01, one epoch."""

    learning_rate: float = 2e-5
    weight_decay: float = 0.01
    epochs: int = 1
    max_steps: int | None = None
    max_minutes: float | None = None
    seed: int = 42
    threads: int | None = None


@dataclass(frozen=True)
class TrainingReport:
    """What a run did: steps taken of those planned, why it stopped, its time and mean loss."""

    steps: int
    planned_steps: int
    stopped_by: str
    seconds: float
    first_loss: float
    last_loss: float


def prepare(settings: TrainingSettings) -> None:
    """Seed the random generators and set torch's thread count, before any data or model work."""
    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    if settings.threads:
        torch.set_num_threads(settings.threads)


@dataclass
class Trainer(Generic[Batch]):
    """Runs ``step_loss`` over ``batches`` for ``settings.epochs``, within ``max_steps`` / ``max_minutes``.

    A module with a ``parameter_groups(learning_rate)`` method sets its own
    per-group learning rates (e.g. a faster one for a freshly initialised head).
    """

    module: torch.nn.Module
    step_loss: Callable[[Batch], torch.Tensor]
    settings: TrainingSettings

    def fit(self, batches: Sequence[Batch], progress: Progress | None = None) -> TrainingReport:
        if not batches:
            raise ValueError("no training batches: the training data is empty")
        settings = self.settings
        planned = len(batches) * settings.epochs
        if settings.max_steps is not None:
            planned = min(planned, settings.max_steps)
        groups = getattr(self.module, "parameter_groups", None)
        parameters = groups(settings.learning_rate) if groups else self.module.parameters()
        optimizer = torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay)
        self.module.train()
        started = time.monotonic()
        deadline = started + settings.max_minutes * 60 if settings.max_minutes else None
        losses: list[float] = []
        stopped_by = "epochs"
        step = 0
        while step < planned:
            batch = batches[step % len(batches)]
            loss = self.step_loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            losses.append(float(loss.detach()))
            if progress is not None:
                progress(step, planned, losses[-1])
            if deadline is not None and time.monotonic() >= deadline and step < planned:
                stopped_by = "max_minutes"
                break
        else:
            if settings.max_steps is not None and planned == settings.max_steps < len(batches) * settings.epochs:
                stopped_by = "max_steps"
        self.module.eval()
        window = max(1, min(50, len(losses) // 10))
        return TrainingReport(
            steps=step,
            planned_steps=planned,
            stopped_by=stopped_by,
            seconds=round(time.monotonic() - started, 1),
            first_loss=sum(losses[:window]) / window if losses else float("nan"),
            last_loss=sum(losses[-window:]) / window if losses else float("nan"),
        )
