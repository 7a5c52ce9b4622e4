"""Records and shard writers: JSONL, Parquet, CSV, BRAT, DocBin; atomic commits and resume state."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import spacy
from spacy.tokens import DocBin

from clinlink.errors import ClinlinkError
from clinlink.io.records import doc_record, mention_rows
from clinlink.io.shards import OutputFolder
from clinlink.io.writers import atomic_write, brat_name, brat_standoff, shard_writer


def test_doc_record_holds_offsets_sections_assertions_and_concepts(annotated_doc):
    record = doc_record("n1", annotated_doc)
    assert record["id"] == "n1" and record["text"] == annotated_doc.text
    effusion, cardiomegaly, asthma = record["entities"]
    assert (effusion["start"], effusion["end"], effusion["text"]) == (13, 29, "pleural\neffusion")
    assert effusion["section"] == "findings" and effusion["assertion"] == "absent"
    assert effusion["codes"] == {"ICD10CM": [["J90", "Pleural effusion, not elsewhere classified", 0.93]], "UMLS": [["C0032227", None, None]]}
    assert effusion["candidates"][1] == ["HP:0100760", "Pleural fluid", 0.41]
    assert cardiomegaly["assertion"] == "present" and cardiomegaly["historical"] is False
    assert asthma["section"] == "family_history" and asthma["assertion"] == "family" and asthma["historical"] is True
    assert record["codes"]["ICD10CM"][0]["code"] == "I51.7"  # doc._.codes, the document's ranked codes
    assert json.loads(json.dumps(record)) == record


def test_mention_rows_flatten_nested_values_to_json_for_csv(annotated_doc):
    rows = mention_rows(doc_record("n1", annotated_doc), nested=False)
    assert len(rows) == 3 and rows[0]["id"] == "n1"
    assert json.loads(rows[0]["codes"])["ICD10CM"][0][0] == "J90"
    assert rows[1]["codes"] is None


def test_mention_rows_keep_nested_values_as_structs_for_parquet(annotated_doc):
    rows = mention_rows(doc_record("n1", annotated_doc))
    assert rows[0]["codes"] == {
        "ICD10CM": [{"code": "J90", "name": "Pleural effusion, not elsewhere classified", "score": 0.93}],
        "UMLS": [{"code": "C0032227", "name": None, "score": None}],  # a cross-reference: no score of its own
    }
    assert rows[0]["candidates"][1] == {"concept_id": "HP:0100760", "name": "Pleural fluid", "score": 0.41}


def test_brat_standoff_splits_mentions_at_line_breaks(annotated_doc):
    lines = brat_standoff(annotated_doc).splitlines()
    assert lines[0] == "T1\tDISO 13 20;21 29\tpleural effusion"
    assert "N1\tReference T1 HP:0002202\tPleural effusion" in lines
    assert "A1\tAssertion T1 absent" in lines
    assert any(line.startswith("#1\tAnnotatorNotes T1\tHP:0002202 Pleural effusion; score=0.970; section=findings; ICD10CM=J90") for line in lines)
    assert "A4\tHistorical T3" in lines


def test_brat_names_are_safe_and_distinct():
    assert brat_name("cxr/report1") == "cxr/report1"
    assert brat_name("../../etc/passwd").startswith("etc/passwd-")
    assert brat_name("a b") != brat_name("a_b") and brat_name("a b").startswith("a_b-")


@pytest.mark.parametrize("fmt,suffix", [
    ("jsonl", ".jsonl"), ("docbin", ".spacy"), ("fhir", ".ndjson"), ("bioc", ".xml"), ("pubtator", ".pubtator"), ("omop", ".csv"),
])
def test_shard_appears_only_at_commit(tmp_path, annotated_doc, fmt, suffix):
    writer = shard_writer(fmt, tmp_path, "part-00000")
    writer.add("n1", annotated_doc)
    assert not (tmp_path / f"part-00000{suffix}").exists()
    [path] = writer.commit()
    assert path == tmp_path / f"part-00000{suffix}"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    if fmt == "docbin":
        [doc] = DocBin().from_disk(path).get_docs(spacy.blank("en").vocab)
        assert doc.user_data["clinlink_id"] == "n1"
        assert [(e._.concept_id, e._.assertion) for e in doc.ents] == [("HP:0002202", "absent"), ("HP:0001640", "present"), ("HP:0002099", "family")]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_tables_have_a_row_per_note_and_per_mention(tmp_path, annotated_doc, fmt):
    writer = shard_writer(fmt, tmp_path, "part-00003")
    writer.add("n1", annotated_doc)
    writer.add("empty", spacy.blank("en")("Nothing to find here."))
    writer.add_error("bad", "binary file (contains NUL bytes)")
    assert not any(tmp_path.rglob(f"*.{fmt}"))
    notes_path, mentions_path = writer.commit()
    assert (notes_path, mentions_path) == (tmp_path / "notes" / f"part-00003.{fmt}", tmp_path / "mentions" / f"part-00003.{fmt}")
    read = pd.read_parquet if fmt == "parquet" else pd.read_csv
    notes = read(notes_path).set_index("id")
    assert list(notes.index) == ["n1", "empty", "bad"]
    assert list(notes["status"]) == ["annotated", "annotated", "error"]
    assert (notes.loc["n1", "mentions"], notes.loc["n1", "absent"], notes.loc["n1", "family"], notes.loc["n1", "historical"]) == (3, 1, 1, 1)
    assert notes.loc["empty", "mentions"] == 0 and "binary" in notes.loc["bad", "error"]
    mentions = read(mentions_path)
    assert list(mentions["concept_id"]) == ["HP:0002202", "HP:0001640", "HP:0002099"]
    assert mentions["start"].dtype == "int64" and mentions["historical"].tolist() == [False, False, True]
    if fmt == "csv":
        assert json.loads(mentions["codes"][0]) == {"ICD10CM": [["J90", "Pleural effusion, not elsewhere classified", 0.93]], "UMLS": [["C0032227", None, None]]}
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(mentions_path)
    assert pa.types.is_map(table.schema.field("codes").type)
    assert pa.types.is_struct(table.schema.field("candidates").type.value_type)
    assert pa.types.is_struct(table.schema.field("assertion_cues").type.value_type)
    first = table.slice(0, 1).to_pylist()[0]
    assert dict(first["codes"]) == {
        "ICD10CM": [{"code": "J90", "name": "Pleural effusion, not elsewhere classified", "score": 0.93}],
        "UMLS": [{"code": "C0032227", "name": None, "score": None}],
    }
    assert first["candidates"][0] == {"concept_id": "HP:0002202", "name": "Pleural effusion", "score": 0.97}


def test_empty_parquet_shard_keeps_the_schema(tmp_path):
    _, path = shard_writer("parquet", tmp_path, "part-00000").commit()
    frame = pd.read_parquet(path)
    assert len(frame) == 0 and frame["score"].dtype == "float64" and "concept_id" in frame


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old", encoding="utf-8")

    def fail(temporary):
        temporary.write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert target.read_text(encoding="utf-8") == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_resume_state_and_errors_file_come_from_commit_records(tmp_path, annotated_doc):
    folder = OutputFolder(tmp_path / "out", "jsonl")
    assert folder.prepare(resume=False).next_shard == 0
    writer = shard_writer("jsonl", folder.path, "part-00000")
    writer.add("n1", annotated_doc)
    folder.commit("part-00000", writer.commit(), [("n1", "n1.txt")], [{"id": "n2", "origin": "n2.txt", "reason": "binary file"}])
    (folder.path / "part-00001.jsonl").write_text("{}\n", encoding="utf-8")  # never committed
    with pytest.raises(ClinlinkError, match="--resume"):
        folder.prepare(resume=False)
    state = folder.prepare(resume=True)
    assert state.done_origins == {"n1.txt", "n2.txt"} and state.seen_ids == {"n1", "n2"}
    assert state.next_shard == 2 and not (folder.path / "part-00001.jsonl").exists()
    folder.write_errors()
    assert json.loads((folder.path / "errors.jsonl").read_text(encoding="utf-8")) == {"id": "n2", "origin": "n2.txt", "reason": "binary file"}
    with pytest.raises(ClinlinkError, match="--format jsonl"):
        OutputFolder(folder.path, "csv").prepare(resume=True)


def test_resolved_flag_in_records_and_brat(annotated_doc):
    annotated_doc.ents[1]._.resolved = True
    effusion, cardiomegaly, _ = doc_record("n1", annotated_doc)["entities"]
    assert cardiomegaly["resolved"] is True and effusion["resolved"] is False
    assert "\tResolved T2" in brat_standoff(annotated_doc)
