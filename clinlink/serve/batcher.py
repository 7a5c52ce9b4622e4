"""Micro-batching: notes of concurrent requests go through ``nlp.pipe`` together, in one thread per pipeline.

Requests wait in a bounded queue (counted in notes). The pipeline thread takes the first waiting request, then
more until ``batch_size`` notes or until ``batch_wait_s`` passed, and annotates them in one ``nlp.pipe`` call
through the batch runner's :func:`clinlink.batch.core.annotate_notes` (a note that breaks the pipeline becomes an
error, the others are answered). Under load batches fill up; a lone request waits at most ``batch_wait_s``.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from spacy.language import Language

from clinlink.batch.core import RunOptions, annotate_notes
from clinlink.batch.inputs import NoteInput
from clinlink.io.records import doc_record


class QueueFull(Exception):
    """More notes are waiting than the queue holds: the client should retry later."""


@dataclass(frozen=True)
class NoteResult:
    """A note's annotation record (as ``clinlink annotate`` writes it), or why it has none."""

    id: str
    record: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class _Request:
    notes: list[tuple[str, str]]  # (id, text)
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future


@dataclass
class BatchStats:
    notes: int = 0
    batches: int = 0
    queued: int = 0  # notes waiting now
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class MicroBatcher:
    """Annotates notes with ``nlp`` in a background thread; :meth:`annotate` is awaited by request handlers."""

    def __init__(self, nlp: Language, options: RunOptions, batch_wait_s: float, queue_size: int):
        self.nlp = nlp
        self.options = options
        self.batch_wait_s = batch_wait_s
        self.queue_size = queue_size
        self.stats = BatchStats()
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="clinlink-batcher", daemon=True)
        self._thread.start()

    async def annotate(self, notes: list[tuple[str, str]]) -> list[NoteResult]:
        """Results in the order of ``notes``; raises :class:`QueueFull` when the queue has no room for them."""
        with self.stats.lock:
            if self.stats.queued and self.stats.queued + len(notes) > self.queue_size:
                raise QueueFull(f"{self.stats.queued} notes are waiting (queue size {self.queue_size})")
            self.stats.queued += len(notes)
        loop = asyncio.get_running_loop()
        request = _Request(notes, loop, loop.create_future())
        self._queue.put(request)
        return await request.future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            batch = [first]
            size = len(first.notes)
            deadline = time.monotonic() + self.batch_wait_s
            while size < self.options.batch_size:
                try:
                    request = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if request is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(request)
                size += len(request.notes)
            self._answer(batch, size)

    def _answer(self, batch: list[_Request], size: int) -> None:
        with self.stats.lock:
            self.stats.queued -= size
            self.stats.batches += 1
            self.stats.notes += size
        inputs = [NoteInput(note_id, str(number), text=text) for number, (note_id, text) in enumerate(note for request in batch for note in request.notes)]
        results: list[NoteResult | None] = [None] * len(inputs)
        try:
            for outcome in annotate_notes(self.nlp, inputs, self.options):
                number = int(outcome.note.origin)
                if outcome.doc is None:
                    results[number] = NoteResult(outcome.note.id, error=outcome.error)
                else:
                    results[number] = NoteResult(outcome.note.id, record=doc_record(outcome.note.id, outcome.doc))
        except Exception as error:  # noqa: BLE001 - answer every waiting request, never leave one hanging
            for request in batch:
                request.loop.call_soon_threadsafe(_fail, request.future, error)
            return
        start = 0
        for request in batch:
            answer = results[start : start + len(request.notes)]
            start += len(request.notes)
            request.loop.call_soon_threadsafe(_resolve, request.future, answer)


def _resolve(future: asyncio.Future, answer: list[NoteResult]) -> None:
    if not future.done():  # a client that went away cancelled its future
        future.set_result(answer)


def _fail(future: asyncio.Future, error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
