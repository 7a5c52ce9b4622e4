"""The compiled concepts on disk: one pickle per concept in a memory-mapped file, each read on first use.

Layout of ``concepts.bin``::

    MAGIC | header length (8 bytes, little endian) | header (pickle) | concept 0 | concept 1 | ...

The header holds the ids, the offsets of each concept's pickle and what the knowledge base
needs without reading every concept: alt-id redirects and the cross-reference index.
A pipeline touches a few thousand of 118k concepts, so loading reads the header only
(about 0.05 s against 0.3 s for unpickling them all) and processes share the mapped pages.
"""

from __future__ import annotations

import mmap
import pickle
import struct
from array import array
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from clinlink.errors import KnowledgeBaseError
from clinlink.kb.concept import Concept

MAGIC = b"CLINLINK-CONCEPTS-2\n"
_LENGTH = struct.Struct("<Q")


@dataclass
class StoreHeader:
    """What a knowledge base reads at load time."""

    ids: list[str]
    offsets: array  # len(ids) + 1 byte offsets into the concept region
    redirects: dict[str, str]
    xref_index: dict[str, list[str]]


def encode_store(concepts: Iterable[Concept], redirects: dict[str, str], xref_index: dict[str, list[str]]) -> bytes:
    """The bytes of ``concepts.bin`` for ``concepts`` (in order) and their derived lookups."""
    ids: list[str] = []
    blobs: list[bytes] = []
    offsets = array("q", [0])
    for concept in concepts:
        blob = pickle.dumps(concept, protocol=5)
        ids.append(concept.id)
        blobs.append(blob)
        offsets.append(offsets[-1] + len(blob))
    header = pickle.dumps(StoreHeader(ids, offsets, redirects, xref_index), protocol=5)
    return b"".join([MAGIC, _LENGTH.pack(len(header)), header, *blobs])


def open_store(path: Path, buffer: mmap.mmap | bytes) -> tuple[StoreHeader, ConceptStore]:
    """Read the header of a mapped ``concepts.bin``; the concepts stay on disk until asked for."""
    start = len(MAGIC) + _LENGTH.size
    if bytes(buffer[: len(MAGIC)]) != MAGIC or len(buffer) < start:
        raise KnowledgeBaseError(f"{path}: not a clinlink concept store; rebuild with --force")
    (length,) = _LENGTH.unpack(buffer[len(MAGIC) : start])
    try:
        header = pickle.loads(buffer[start : start + length])
    except Exception as error:  # noqa: BLE001 - any unpickling failure means corruption
        raise KnowledgeBaseError(f"{path}: cannot unpickle the header ({error}); rebuild with --force") from error
    if not isinstance(header, StoreHeader) or len(header.offsets) != len(header.ids) + 1:
        raise KnowledgeBaseError(f"{path}: cannot unpickle the header (not a concept index); rebuild with --force")
    region = memoryview(buffer)[start + length :]
    if len(region) != header.offsets[-1]:
        raise KnowledgeBaseError(
            f"{path}: cannot unpickle: {len(region)} bytes of concepts where the header says {header.offsets[-1]} (truncated?); rebuild with --force"
        )
    return header, ConceptStore(path, region, header.ids, header.offsets)


class ConceptStore(MutableMapping[str, Concept]):
    """Concepts by id, unpickled from the mapped region on first access and kept.

    Concepts added or replaced in memory (:meth:`KnowledgeBase.add`) shadow the stored ones.
    Iteration follows the stored order, then the added ids.
    """

    def __init__(self, path: Path, region: memoryview, ids: list[str], offsets: array):
        self._path = path
        self._region = region
        self._offsets = offsets
        self._positions = {concept_id: position for position, concept_id in enumerate(ids)}
        self._loaded: dict[str, Concept] = {}
        self._added: dict[str, None] = {}  # ids not in the file, in insertion order

    def _read(self, concept_id: str, position: int) -> Concept:
        try:
            concept = pickle.loads(self._region[self._offsets[position] : self._offsets[position + 1]])
        except Exception as error:  # noqa: BLE001 - a broken record is corruption, named with its file
            raise KnowledgeBaseError(f"{self._path}: cannot unpickle concept {concept_id!r} ({error}); rebuild with --force") from error
        self._loaded[concept_id] = concept
        return concept

    def get(self, concept_id: str, default: Concept | None = None) -> Concept | None:
        concept = self._loaded.get(concept_id)
        if concept is not None:
            return concept
        position = self._positions.get(concept_id)
        return default if position is None else self._read(concept_id, position)

    def __getitem__(self, concept_id: str) -> Concept:
        concept = self.get(concept_id)
        if concept is None:
            raise KeyError(concept_id)
        return concept

    def __contains__(self, concept_id: object) -> bool:
        return concept_id in self._positions or concept_id in self._added

    def __setitem__(self, concept_id: str, concept: Concept) -> None:
        if concept_id not in self._positions:
            self._added[concept_id] = None
        self._loaded[concept_id] = concept

    def __delitem__(self, concept_id: str) -> None:
        if concept_id not in self:
            raise KeyError(concept_id)
        self._positions.pop(concept_id, None)
        self._added.pop(concept_id, None)
        self._loaded.pop(concept_id, None)

    def __len__(self) -> int:
        return len(self._positions) + len(self._added)

    def __iter__(self) -> Iterator[str]:
        yield from self._positions
        yield from self._added

    def __reduce__(self):
        """Pickled (e.g. sent to a Dask worker) as a plain dict: a mapped file does not travel."""
        return dict, (list(self.items()),)
