"""Saving trained models: fp16 safetensors that load as float32, tokenizer, sha256 of each weight file.

Weights are stored in half precision (half the size in git), the word embeddings (half of a
MiniLM's weights) as int8 rows with a scale each (:mod:`clinlink.linking.weights`); the saved
``config.json`` says ``dtype: float32``, and clinlink's loaders unpack the int8 rows and cast back
on load (CPU inference in fp16 is slow).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clinlink.kb.compiled import sha256_file

#: The largest weight file we commit (bytes).
MAX_WEIGHT_FILE = 50 * 1024 * 1024
#: Matrices stored as int8 rows (see :mod:`clinlink.linking.weights`).
INT8_MATRICES = ("embeddings.word_embeddings.weight",)


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
        pack_matrices(path)
        path.chmod(0o644)
    tokenizer.save_pretrained(str(out))
    config_path = out / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.pop("torch_dtype", None)
    config["dtype"] = "float32"
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return weight_files(out)


def pack_matrices(path: Path, names: tuple[str, ...] = INT8_MATRICES) -> None:
    """Rewrite a safetensors file with ``names`` (where present) as int8 rows, keeping its metadata."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from clinlink.linking.weights import pack

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(path))
    if any(name in tensors for name in names):
        save_file(pack(tensors, names), str(path), metadata=metadata)
        path.chmod(0o644)


def weight_files(directory: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of each ``*.safetensors`` file in ``directory``."""
    return {
        path.name: {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(Path(directory).glob("*.safetensors"))
    }
