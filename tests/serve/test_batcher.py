"""The micro-batcher on its own: notes of concurrent requests share nlp.pipe batches; a full queue refuses; a note
that breaks the pipeline fails alone."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import spacy
from spacy.language import Language

from clinlink.batch.core import RunOptions
from clinlink.extensions import register_extensions
from clinlink.serve.batcher import MicroBatcher, QueueFull

GATE = threading.Event()  # the gate component blocks the pipeline thread until this is set


@Language.component("serve_test_gate")
def gate(doc):
    GATE.wait(timeout=30)
    return doc


@Language.component("serve_test_explode")
def explode(doc):
    if "EXPLODE" in doc.text:
        raise ValueError(doc.text)
    return doc


@pytest.fixture()
def batcher_of():
    register_extensions()
    made: list[MicroBatcher] = []

    def make(*components: str, batch_size: int = 32, queue_size: int = 256, wait_s: float = 0.0) -> MicroBatcher:
        nlp = spacy.blank("en")
        for name in components:
            nlp.add_pipe(name)
        made.append(MicroBatcher(nlp, RunOptions(batch_size=batch_size), wait_s, queue_size))
        return made[-1]

    GATE.clear()
    yield make
    GATE.set()
    for batcher in made:
        batcher.close()


async def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


def test_requests_queued_while_the_pipeline_is_busy_share_batches_of_at_most_batch_size(batcher_of):
    batcher = batcher_of("serve_test_gate", batch_size=2)

    async def run():
        first = asyncio.ensure_future(batcher.annotate([("a", "first note")]))
        await wait_for(lambda: batcher.stats.batches == 1)  # the pipeline thread holds it, blocked at the gate
        rest = [asyncio.ensure_future(batcher.annotate([(name, f"note {name}")])) for name in "bcd"]
        await wait_for(lambda: batcher.stats.queued == 3)
        GATE.set()
        return await first, await asyncio.gather(*rest)

    first, rest = asyncio.run(run())
    assert [result.record["id"] for result in first] == ["a"]
    assert [[result.record["text"] for result in results] for results in rest] == [["note b"], ["note c"], ["note d"]]
    assert (batcher.stats.batches, batcher.stats.notes, batcher.stats.queued) == (3, 4, 0)  # a, then b+c, then d


def test_a_full_queue_refuses_more_notes(batcher_of):
    batcher = batcher_of("serve_test_gate", queue_size=2)

    async def run():
        first = asyncio.ensure_future(batcher.annotate([("a", "first")]))
        await wait_for(lambda: batcher.stats.batches == 1)
        waiting = asyncio.ensure_future(batcher.annotate([("b", "second"), ("c", "third")]))
        await wait_for(lambda: batcher.stats.queued == 2)
        with pytest.raises(QueueFull, match=r"2 notes are waiting \(queue size 2\)"):
            await batcher.annotate([("d", "one too many")])
        GATE.set()
        return await first, await waiting

    first, waiting = asyncio.run(run())
    assert [result.id for result in first + waiting] == ["a", "b", "c"]


def test_a_note_that_breaks_the_pipeline_fails_alone(batcher_of):
    batcher = batcher_of("serve_test_explode")
    results = asyncio.run(batcher.annotate([("ok1", "fine"), ("bad", "EXPLODE here"), ("ok2", "also fine")]))
    assert [(result.id, result.record is not None, result.error) for result in results] == [
        ("ok1", True, None), ("bad", False, "pipeline error in serve_test_explode: ValueError"), ("ok2", True, None),
    ]
    assert results[2].record == {"id": "ok2", "text": "also fine", "sections": [], "entities": []}
