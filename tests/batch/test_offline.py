"""Annotation opens no network connection: loading and running the pipeline under a socket guard."""

from __future__ import annotations

import socket

import pytest

from clinlink.batch import annotate
from clinlink.batch.core import PipelineSpec, RunOptions


def test_socket_guard_blocks_connections(socket_guard):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", 9))
    assert len(socket_guard) == 1 and socket_guard[0].startswith("socket.create_connection")


def test_batch_run_opens_no_socket(socket_guard, notes_dir, tmp_path, test_pipeline, records_of):
    spec = PipelineSpec.of(test_pipeline, ner={"fuzzy": True})  # a spec not cached yet: loaded under the guard
    summary = annotate(notes_dir, tmp_path / "out", pipeline=spec, options=RunOptions(n_process=1))
    assert summary.annotated == 4 and summary.mentions >= 8
    assert socket_guard == []


@pytest.mark.slow
def test_default_pipeline_loads_and_annotates_offline(default_kb, socket_guard, tmp_path):
    """The default ``clinical`` pipeline (real HPO + ICD-10-CM KB) on a synthetic note, with every socket refused."""
    import clinlink

    nlp = clinlink.load()
    doc = nlp("FINDINGS: Small right pleural effusion. No pneumothorax.\nIMPRESSION: Cardiomegaly.")
    found = {(span.text.lower(), span._.concept_id) for span in doc.ents}
    assert ("pleural effusion", "HP:0002202") in found or any(text.endswith("pleural effusion") for text, _ in found)
    assert ("cardiomegaly", "HP:0001640") in found
    assert socket_guard == []
