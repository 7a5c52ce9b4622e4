"""Name vectors shipped beside a bi-encoder, so a fresh install does not encode 100k names.

``name_vectors.safetensors`` (int8 rows, see :mod:`clinlink.linking.weights`) and
``name_vectors.json`` (the names, row ``i`` is name ``i``) sit in the model's directory, recorded with
the encoder's fingerprint: vectors of another encoder (or of the same weights with other pooling or
length) are never used. Building the dense index takes a shipped name's vector and encodes only the
names the file lacks (a newer ontology release, a user's own KB).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from clinlink import progress
from clinlink.kb.compiled import atomic_write_bytes
from clinlink.linking.encoder import TextEncoder

log = logging.getLogger(__name__)

VECTORS_FILE = "name_vectors.safetensors"
NAMES_FILE = "name_vectors.json"
MATRIX = "vectors"
#: Names encoded per call, so that the progress line moves.
CHUNK = 4096


def shipped_vectors(encoder: TextEncoder) -> dict[str, np.ndarray] | None:
    """Shipped name -> unit vector for ``encoder``, or None when its directory has none for this encoder."""
    from safetensors import SafetensorError, safe_open

    from clinlink.linking.weights import read_weights

    path = Path(encoder.model_dir) / VECTORS_FILE
    if not path.is_file() or not (path.parent / NAMES_FILE).is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            fingerprint = (handle.metadata() or {}).get("fingerprint")
        if fingerprint != encoder.fingerprint:
            log.info("%s: computed with another encoder, not used", path)
            return None
        matrix = read_weights(path)[MATRIX].numpy()
        names = json.loads((path.parent / NAMES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, SafetensorError) as error:
        log.warning("%s: unreadable (%s); encoding every name", path, error)
        return None
    if len(names) != len(matrix):
        log.warning("%s: %d vectors for %d names; encoding every name", path, len(matrix), len(names))
        return None
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = matrix / np.where(norms > 0, norms, 1)
    return dict(zip(names, matrix, strict=True))


def name_vectors(encoder: TextEncoder, names: list[str]) -> np.ndarray:
    """Unit vectors of ``names`` (unique), shipped ones looked up and the rest encoded, with progress shown."""
    shipped = shipped_vectors(encoder) or {}
    vectors = np.zeros((len(names), encoder.dim), dtype=np.float32)
    missing = []
    for row, name in enumerate(names):
        vector = shipped.get(name)
        if vector is None:
            missing.append(row)
        else:
            vectors[row] = vector
    if shipped:
        log.info("dense index: %d of %d names shipped with the encoder", len(names) - len(missing), len(names))
    if missing:
        with progress.step(f"encoding {len(missing):,} names for the dense index (once)", total=len(missing)) as advance:
            for start in range(0, len(missing), CHUNK):
                rows = missing[start : start + CHUNK]
                vectors[rows] = encoder.encode([names[i] for i in rows], batch_size=256)
                advance(len(rows))
    return vectors


def save_name_vectors(encoder: TextEncoder, names: list[str], directory: Path | None = None) -> Path:
    """Encode ``names`` (unique) and save them beside the encoder's weights (or in ``directory``)."""
    from safetensors.torch import save

    from clinlink.linking.weights import pack

    directory = Path(directory or encoder.model_dir)
    names = list(dict.fromkeys(names))
    with progress.step(f"encoding {len(names):,} names", total=len(names)) as advance:
        parts = []
        for start in range(0, len(names), CHUNK):
            parts.append(encoder.encode(names[start : start + CHUNK], batch_size=256))
            advance(len(parts[-1]))
    import torch

    matrix = torch.from_numpy(np.concatenate(parts) if parts else np.zeros((0, encoder.dim), dtype=np.float32))
    payload = save(pack({MATRIX: matrix}, (MATRIX,)), metadata={"fingerprint": encoder.fingerprint, "count": str(len(names))})
    atomic_write_bytes(directory / NAMES_FILE, json.dumps(names, ensure_ascii=False).encode("utf-8"))
    atomic_write_bytes(directory / VECTORS_FILE, payload)
    for name in (NAMES_FILE, VECTORS_FILE):
        (directory / name).chmod(0o644)  # readable by every user of a shared install
    return directory / VECTORS_FILE
