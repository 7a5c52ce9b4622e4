"""The memory-mapped concept store: concepts read on first use, same answers as a KB held in memory."""

from __future__ import annotations

import pickle
import shutil

import pytest

from clinlink.errors import KnowledgeBaseError
from clinlink.kb import Concept, KnowledgeBase, load_compiled
from clinlink.kb.compiled import CONCEPTS
from clinlink.kb.store import ConceptStore


def _in_memory(kb: KnowledgeBase) -> KnowledgeBase:
    return KnowledgeBase(list(load_compiled(kb.path)), sources=kb.sources)


def test_loading_reads_no_concept_until_one_is_asked_for(fixture_kb):
    kb = load_compiled(fixture_kb.path)
    store = kb._concepts
    assert isinstance(store, ConceptStore)
    assert store._loaded == {}
    some_id = next(iter(store))
    assert kb.get(some_id).id == some_id
    assert list(store._loaded) == [some_id]


def test_stored_kb_answers_like_the_same_kb_in_memory(fixture_kb):
    stored, memory = load_compiled(fixture_kb.path), _in_memory(fixture_kb)
    assert len(stored) == len(memory) > 10
    assert [c.id for c in stored] == [c.id for c in memory]
    for concept in memory:
        assert stored.get(concept.id) == memory.get(concept.id)
        assert stored._concepts[concept.id] == concept
        for alt in concept.alt_ids:
            assert stored.resolve(alt) == memory.resolve(alt)
    fresh = load_compiled(fixture_kb.path)  # codes come from the saved cross-reference index, before any iteration
    for concept in memory:
        assert fresh.codes(concept.id) == memory.codes(concept.id)
    assert fresh.lookups() == memory.lookups()
    some = next(c for c in memory if c.parents)
    assert stored.parents(some.id) == memory.parents(some.id)


def test_added_concepts_shadow_and_extend_the_stored_ones(fixture_kb):
    kb = load_compiled(fixture_kb.path)
    first = next(iter(kb))
    size = len(kb)
    kb.add(Concept(id=first.id, source=first.source, name="renamed in memory"))
    kb.add(Concept(id="HP:9999999", source="HP", name="new in memory"))
    assert kb.get(first.id).name == "renamed in memory"
    assert len(kb) == size + 1
    assert [c.id for c in kb][-1] == "HP:9999999"
    assert kb.lookup("new in memory") == ["HP:9999999"]


def test_a_stored_kb_pickles_as_plain_concepts(fixture_kb):
    kb = load_compiled(fixture_kb.path)
    copy = pickle.loads(pickle.dumps(kb))
    assert isinstance(copy._concepts, dict)
    assert list(copy) == list(_in_memory(fixture_kb))


def test_a_broken_concept_record_names_the_file_and_the_concept(fixture_kb, tmp_path):
    copy = shutil.copytree(fixture_kb.path, tmp_path / "kb")
    kb = load_compiled(copy)
    last = list(kb._concepts)[-1]
    payload = bytearray((copy / CONCEPTS).read_bytes())
    payload[-2] ^= 0xFF  # inside the last concept's record: the header still reads
    (copy / CONCEPTS).write_bytes(bytes(payload))
    broken = load_compiled(copy, verify=False)
    with pytest.raises(KnowledgeBaseError, match=rf"concepts\.bin: cannot unpickle concept '{last}'"):
        broken.get(last)


@pytest.mark.parametrize(
    "content,message",
    [(b"", r"concepts\.bin: cannot read \(cannot mmap an empty file\)"), (b"\x80\x05N.", r"concepts\.bin: not a clinlink concept store")],
)
def test_an_empty_or_foreign_concepts_file_names_the_file(fixture_kb, tmp_path, content, message):
    copy = shutil.copytree(fixture_kb.path, tmp_path / "kb")
    (copy / CONCEPTS).write_bytes(content)
    with pytest.raises(KnowledgeBaseError, match=message):
        load_compiled(copy, verify=False)
