"""Allowed name rows of the linker's filters, saved beside the indexes.

Working out which rows pass a filter (sources, subtrees, semantic groups) walks
every concept of the KB: about 0.2 s for HPO + ICD-10-CM, paid by each new
process on its first document. The rows are saved once per filter, keyed by the
KB's identity (:func:`clinlink.linking.names.table_identity`: its checksum and
the digests of the code that lists its names), so another KB or other code never
reads them.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from clinlink.kb.compiled import atomic_write_bytes

log = logging.getLogger(__name__)

FILTER_DIR = "filters"
VERSION = 1  # of the rule that picks rows (Linker._allowed_rows): a change must bump it


class FilterCache:
    """``rows(filters, compute)``: the saved rows of ``filters``, else ``compute()``'s, saved (best effort)."""

    def __init__(self, directory: Path | None, identity: dict[str, str] | None):
        self.directory = Path(directory) / FILTER_DIR if directory is not None and identity is not None else None
        self.identity = identity

    def path(self, filters: tuple) -> Path | None:
        if self.directory is None:
            return None
        key = json.dumps([VERSION, self.identity, [list(part) for part in filters]], sort_keys=True)
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.npy"

    def rows(self, filters: tuple, compute: Callable[[], np.ndarray]) -> np.ndarray:
        path = self.path(filters)
        if path is None:
            return compute()
        try:
            rows = np.load(path, allow_pickle=False)
            if rows.ndim == 1 and rows.dtype == np.int64:
                return rows
            log.warning("%s: not a row list, recomputing", path)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as error:
            log.warning("%s: unreadable (%s), recomputing", path, error)
        rows = compute()
        self._save(path, rows)
        return rows

    @staticmethod
    def _save(path: Path, rows: np.ndarray) -> None:
        """Atomic (temporary file + rename); a read-only cache is left as it is."""
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(rows, dtype=np.int64), allow_pickle=False)
        try:
            atomic_write_bytes(path, buffer.getvalue())
        except OSError as error:
            log.debug("%s: filter rows not saved (%s)", path, error)
