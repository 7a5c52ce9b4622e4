"""Saving trained models: fp16 safetensors that load as float32, tokenizer, sha256 of each weight file.

Weights are stored in half precision (half the size in git); the saved
``config.json`` says ``dtype: float32`` so ``from_pretrained`` casts them back
on load (CPU inference in fp16 is slow).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clinlink.kb.compiled import sha256_file

#: The largest weight file we commit (bytes).
MAX_WEIGHT_FILE = 50 * 1024 * 1024


def save_fp16(model: Any, tokenizer: Any, out: Path) -> dict[str, dict[str, Any]]:
    """Save ``model`` (a transformers PreTrainedModel) + ``tokenizer`` to ``out``; ``{file: {bytes, sha256}}``."""
    import torch

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.safetensors"):
        stale.unlink()
    model.to(torch.float16)
    try:
        model.save_pretrained(str(out), safe_serialization=True, max_shard_size=MAX_WEIGHT_FILE)
    finally:
        model.to(torch.float32)
    for path in out.glob("*.safetensors"):
        path.chmod(0o644)
    tokenizer.save_pretrained(str(out))
    config_path = out / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.pop("torch_dtype", None)
    config["dtype"] = "float32"
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return weight_files(out)


def weight_files(directory: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of each ``*.safetensors`` file in ``directory``."""
    return {
        path.name: {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(Path(directory).glob("*.safetensors"))
    }
