"""The name table: one row per (name, concept) pair, shared by the dense and sparse indexes.

Row ``i`` of every index is ``names[i]`` of concept ``concept_ids[i]``, so
filters (allowed rows) and masks apply to all of them alike.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from clinlink.errors import KnowledgeBaseError
from clinlink.kb import KnowledgeBase
from clinlink.kb.compiled import atomic_write_bytes
from clinlink.text.normalize import normalize

FILE = "names.json"
#: What a saved table was built from (:func:`table_identity`): a table whose identity matches needs no rebuild.
IDENTITY_FILE = "names-identity.json"


@lru_cache(maxsize=1)
def normalizer_digest() -> str:
    """sha256 of the normalization code: saved normalized names and the TF-IDF index depend on it."""
    import clinlink.text.normalize as module

    return hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def _table_code_digest() -> str:
    """sha256 of the code that lists a KB's names (a change there may change the rows)."""
    import clinlink.kb.concept
    import clinlink.kb.knowledge_base

    files = (clinlink.kb.concept.__file__, clinlink.kb.knowledge_base.__file__, __file__)
    return hashlib.sha256(b"".join(Path(f).read_bytes() for f in files)).hexdigest()


def table_identity(kb: KnowledgeBase) -> dict[str, str] | None:
    """The compiled KB's checksum and the digests of the code that lists and normalizes its names
    (None for a KB built in memory: its rows are compared name by name instead)."""
    checksum = (kb.manifest.get("artifacts") or {}).get("concepts", {}).get("sha256") if kb.manifest else None
    if not checksum:
        return None
    return {"kb_sha256": checksum, "code": _table_code_digest(), "normalizer": normalizer_digest()}


def matches_identity(directory: Path, identity: dict[str, str] | None) -> bool:
    """True when the table saved in ``directory`` was recorded with ``identity`` and is the very file it was
    recorded with (its sha256 is part of the record)."""
    if identity is None:
        return False
    try:
        saved = json.loads((Path(directory) / IDENTITY_FILE).read_text(encoding="utf-8"))
        if not isinstance(saved, dict) or any(saved.get(key) != value for key, value in identity.items()):
            return False
        return saved.get("names_sha256") == hashlib.sha256((Path(directory) / FILE).read_bytes()).hexdigest()
    except (OSError, ValueError):
        return False


def record_identity(directory: Path, identity: dict[str, str]) -> None:
    """Writes ``identity`` and the sha256 of the saved table beside it (atomically)."""
    directory = Path(directory)
    record = {**identity, "names_sha256": hashlib.sha256((directory / FILE).read_bytes()).hexdigest()}
    atomic_write_bytes(directory / IDENTITY_FILE, json.dumps(record).encode())


class NameTable:
    """Names and their concept ids, with per-concept rows and a normalized-name lookup."""

    def __init__(self, names: list[str], concept_ids: list[str], normalized: list[str] | None = None):
        if len(names) != len(concept_ids) or (normalized is not None and len(normalized) != len(names)):
            raise ValueError("names, concept_ids and normalized names differ in length")
        self.names = list(names)
        self.concept_ids = np.asarray(concept_ids, dtype=object)
        if normalized is not None:
            self.__dict__["normalized"] = list(normalized)

    @classmethod
    def from_kb(cls, kb: KnowledgeBase) -> NameTable:
        """Every name of every indexed, current concept of ``kb``."""
        pairs = list(kb.iter_names(indexed_only=True))
        return cls([name for name, _ in pairs], [concept_id for _, concept_id in pairs])

    def __len__(self) -> int:
        return len(self.names)

    @cached_property
    def normalized(self) -> list[str]:
        """``normalize(name)`` of every row (saved with the table, since it takes seconds at 100k names)."""
        return [normalize(name) for name in self.names]

    @cached_property
    def rows_by_concept(self) -> dict[str, np.ndarray]:
        """Rows of each concept. A concept's names are consecutive rows (as :meth:`from_kb` lists them), so
        each run of equal ids becomes a slice of one array; a concept met again later gets its runs joined."""
        ids = self.concept_ids.tolist()
        every = np.arange(len(ids), dtype=np.int64)
        rows: dict[str, np.ndarray] = {}
        start = 0
        for end in range(1, len(ids) + 1):
            if end < len(ids) and ids[end] == ids[start]:
                continue
            run = every[start:end]
            concept_id = ids[start]
            rows[concept_id] = np.concatenate([rows[concept_id], run]) if concept_id in rows else run
            start = end
        return rows

    @cached_property
    def rows_by_normalized(self) -> dict[str, list[int]]:
        rows: dict[str, list[int]] = defaultdict(list)
        for row, key in enumerate(self.normalized):
            rows[key].append(row)
        return dict(rows)

    def rows_of(self, concept_ids: Iterable[str]) -> np.ndarray:
        """Sorted rows of the given concepts (unknown ids contribute nothing)."""
        found = [self.rows_by_concept[c] for c in concept_ids if c in self.rows_by_concept]
        return np.sort(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)

    def save(self, directory: Path, identity: dict[str, str] | None = None) -> None:
        """Writes the table, and ``identity`` (see :func:`table_identity`) beside it when given."""
        payload = {
            "names": self.names,
            "concept_ids": self.concept_ids.tolist(),
            "normalized": self.normalized,
            "normalizer": normalizer_digest(),
        }
        (Path(directory) / FILE).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        if identity is not None:
            record_identity(directory, identity)

    @classmethod
    def load(cls, directory: Path) -> NameTable:
        path = Path(directory) / FILE
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            current = payload.get("normalizer") == normalizer_digest()
            table = cls(payload["names"], payload["concept_ids"], payload.get("normalized") if current else None)
            table.normalizer_current = current
            return table
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise KnowledgeBaseError(f"{path}: cannot read the name table ({error}); rebuild the index") from error

    def same_rows(self, other: NameTable) -> bool:
        return self.names == other.names and list(self.concept_ids) == list(other.concept_ids)

    normalizer_current = True  # False for a saved table normalized by another version of normalize.py

    def adopt_normalized(self, other: NameTable) -> None:
        """Reuse the normalized names of a saved table with the same rows."""
        if "normalized" in other.__dict__ and "normalized" not in self.__dict__:
            self.__dict__["normalized"] = other.__dict__["normalized"]
