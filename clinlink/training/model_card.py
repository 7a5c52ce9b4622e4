"""``model_card.md`` beside trained weights: base, data, recipe, command, time, weight checksums.

Benchmark figures are added under "Metrics" once measured (``benchmarks/linking.py``).
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from clinlink.training.loop import TrainingReport

CARD = "model_card.md"


def _settings_rows(settings: Any) -> list[str]:
    rows = []
    for key, value in (asdict(settings) if is_dataclass(settings) else settings).items():
        if isinstance(value, dict):
            rows.extend(f"| {key}.{inner} | {inner_value} |" for inner, inner_value in value.items())
        else:
            rows.append(f"| {key} | {value} |")
    return rows


def write_model_card(
    out: Path,
    title: str,
    summary: dict[str, Any],
    settings: Any,
    report: TrainingReport,
    command: str,
    data_description: str,
    metrics: str = "Not measured yet: run `benchmarks/linking.py`.",
) -> Path:
    """Write ``out/model_card.md`` and return its path."""
    files = summary["files"]
    lines = [
        f"# {title}",
        "",
        "## Base model",
        f"`{summary['base']}` (loaded from local files only).",
        "",
        "## Training data",
        data_description,
        "",
        *(f"- {key}: {value}" for key, value in summary.items() if key not in {"base", "files"}),
        "",
        "## Recipe",
        "| setting | value |",
        "|---|---|",
        *_settings_rows(settings),
        "",
        "## Run",
        "```",
        command,
        "```",
        f"- steps: {report.steps} of {report.planned_steps} planned (stopped by {report.stopped_by})",
        f"- time: {report.seconds / 60:.1f} min on CPU",
        f"- loss: {report.first_loss:.4f} (first steps) -> {report.last_loss:.4f} (last steps)",
        "",
        "## Weights",
        "Stored as fp16 safetensors, the word embeddings as int8 rows with a float32 scale each; `config.json` declares "
        "`dtype: float32`, and `clinlink.linking.weights.from_pretrained` (or clinlink's own loaders) unpack and load float32.",
        "",
        "| file | bytes | sha256 |",
        "|---|---|---|",
        *(f"| {name} | {info['bytes']:,} | `{info['sha256']}` |" for name, info in files.items()),
        "",
        "## Metrics",
        metrics,
        "",
    ]
    path = Path(out) / CARD
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
