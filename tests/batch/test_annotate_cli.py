"""``clinlink annotate`` end to end on synthetic notes: outputs, bad files, tables, duplicate ids, logs."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest



def test_folder_to_jsonl_has_every_note_with_offsets_sections_and_assertions(cli, notes_dir, test_pipeline, tmp_path, records_of, errors_of):
    out = tmp_path / "out"
    result = cli("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline, "--shard-size", "3")
    assert result.exit_code == 0, result.output
    records = {record["id"]: record for record in records_of(out)}
    assert set(records) == {"cxr/report1", "cxr/report2", "clinic/visit", "short"}
    assert sorted(p.name for p in out.glob("part-*.jsonl")) == ["part-00000.jsonl", "part-00001.jsonl"]
    for record in records.values():
        for entity in record["entities"]:
            assert record["text"][entity["start"] : entity["end"]] == entity["text"]
    report1 = {(e["text"], e["section"]): e for e in records["cxr/report1"]["entities"]}
    assert report1[("pleural effusion", "findings")]["concept_id"] == "HP:9000002"
    assert report1[("pleural effusion", "findings")]["assertion"] == "present"
    assert report1[("chylothorax", "findings")]["assertion"] == "absent"
    assert report1[("Pleural effusion", "impression")]["concept_name"] == "Pleural effusion"
    family = [e for e in records["clinic/visit"]["entities"] if e["text"] == "heart enlargement"]
    assert family and family[0]["assertion"] == "family" and family[0]["section"] == "family_history"
    assert errors_of(out) == []
    assert "annotated" in result.output and "notes/s" in result.output


def test_bad_files_go_to_errors_and_the_run_continues(cli, tmp_path, test_pipeline, records_of, errors_of, make_notes):
    notes = make_notes(tmp_path / "notes", {
        "good.txt": "FINDINGS: No pleural effusion.",
        "binary.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR pleural effusion",
        "latin1.txt": "IMPRESSION: Chylothorax chez le caf\u00e9 (r\u00e9sum\u00e9).".encode("latin-1"),
        "empty.txt": b"",
        "huge.txt": ("Pleural effusion. " * 300_000)[:5_000_000].encode("ascii"),
    })
    out = tmp_path / "out"
    result = cli("annotate", notes, "-o", out, "--pipeline", test_pipeline)
    assert result.exit_code == 0, result.output
    records = {record["id"]: record for record in records_of(out)}
    assert set(records) == {"good", "latin1", "empty"}
    assert records["latin1"]["text"] == "IMPRESSION: Chylothorax chez le caf\u00e9 (r\u00e9sum\u00e9)."
    assert [e["concept_id"] for e in records["latin1"]["entities"]] == ["HP:9000003"]
    assert records["empty"]["entities"] == []
    errors = {error["id"]: error for error in errors_of(out)}
    assert set(errors) == {"binary", "huge"}
    assert errors["binary"]["origin"] == "binary.txt" and "binary" in errors["binary"]["reason"]
    assert "oversized" in errors["huge"]["reason"] and "5,000,000" in errors["huge"]["reason"]


def test_max_chars_is_configurable(cli, tmp_path, test_pipeline, records_of, errors_of, make_notes):
    notes = make_notes(tmp_path / "notes", {"a.txt": "Pleural effusion. " * 10, "b.txt": "Chylothorax."})
    out = tmp_path / "out"
    assert cli("annotate", notes, "-o", out, "--pipeline", test_pipeline, "--max-chars", "100").exit_code == 0
    assert [r["id"] for r in records_of(out)] == ["b"]
    assert [e["id"] for e in errors_of(out)] == ["a"]


def test_csv_with_several_text_columns(cli, tmp_path, test_pipeline, records_of):
    table = tmp_path / "reports.csv"
    pd.DataFrame({
        "uid": ["r1", "r2"],
        "findings": ["No pleural effusion.", "Heart enlargement."],
        "impression": ["Chylothorax.", ""],
    }).to_csv(table, index=False)
    out = tmp_path / "out"
    result = cli("annotate", table, "-o", out, "--pipeline", test_pipeline, "--id-col", "uid", "--text-col", "findings", "--text-col", "impression")
    assert result.exit_code == 0, result.output
    records = {record["id"]: record for record in records_of(out)}
    assert records["r1"]["text"] == "FINDINGS: No pleural effusion.\n\nIMPRESSION: Chylothorax."
    assert {(e["text"], e["section"], e["assertion"]) for e in records["r1"]["entities"]} == {
        ("pleural effusion", "findings", "absent"), ("Chylothorax", "impression", "present"),
    }
    assert records["r2"]["text"] == "FINDINGS: Heart enlargement."  # the empty impression is left out


def test_csv_without_the_text_column_is_a_clear_error(cli, tmp_path, test_pipeline):
    table = tmp_path / "notes.csv"
    table.write_text("id,body\n1,Pleural effusion.\n", encoding="utf-8")
    out = tmp_path / "out"
    result = cli("annotate", table, "-o", out, "--pipeline", test_pipeline, "--text-col", "note_text")
    assert result.exit_code != 0
    message = " ".join(result.output.split())
    assert str(table) in message and "'note_text'" in message
    assert "Traceback" not in result.output
    assert not out.exists()


def test_duplicated_ids_keep_the_first_note_and_record_the_others(cli, tmp_path, test_pipeline, records_of, errors_of):
    table = tmp_path / "notes.jsonl"
    rows = [{"id": "a", "text": "Chylothorax."}, {"id": "b", "text": "Heart enlargement."}, {"id": "a", "text": "Pleural effusion."}]
    table.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "out"
    assert cli("annotate", table, "-o", out, "--pipeline", test_pipeline).exit_code == 0
    records = records_of(out)
    assert [r["id"] for r in records] == ["a", "b"]
    assert records[0]["text"] == "Chylothorax."
    errors = errors_of(out)
    assert len(errors) == 1 and errors[0]["id"] == "a" and errors[0]["origin"] == "notes.jsonl:row 3"
    assert "duplicate id" in errors[0]["reason"]


def test_output_folder_that_cannot_be_written_is_a_clear_error(cli, notes_dir, tmp_path, test_pipeline):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    result = cli("annotate", notes_dir, "-o", blocker / "out", "--pipeline", test_pipeline)
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert f"{blocker / 'out'}: cannot write output here" in message
    assert "Traceback" not in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_output_folder_is_a_clear_error(cli, notes_dir, tmp_path, test_pipeline):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = cli("annotate", notes_dir, "-o", locked, "--pipeline", test_pipeline)
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 1
    assert "cannot write output here" in " ".join(result.output.split())


def test_existing_output_needs_resume(cli, notes_dir, tmp_path, test_pipeline, records_of, sample_notes):
    out = tmp_path / "out"
    assert cli("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline).exit_code == 0
    again = cli("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline)
    assert again.exit_code == 1 and "--resume" in again.output
    resumed = cli("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline, "--resume")
    assert resumed.exit_code == 0
    assert sorted(r["id"] for r in records_of(out)) == sorted(name[:-4] for name in sample_notes)
    other_format = cli("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline, "--resume", "--format", "csv")
    assert other_format.exit_code == 1 and "--format jsonl" in other_format.output


SECRET = "Zanzibarquux"


def test_logs_hold_no_note_text_unless_log_text(cli, tmp_path, test_pipeline, caplog, make_notes):
    notes = make_notes(tmp_path / "notes", {
        "dup.txt": f"Pleural effusion in {SECRET} one.",
        "long.txt": f"{SECRET} chylothorax. " * 20,
        "cp1252.txt": f"Heart enlargement \u201c{SECRET}\u201d.".encode("cp1252"),
    })
    table = tmp_path / "notes.csv"
    pd.DataFrame({"id": ["x", "x"], "text": [f"Chylothorax {SECRET}.", f"Second {SECRET} note."]}).to_csv(table, index=False)
    caplog.set_level("DEBUG")
    quiet = [
        cli("-v", "annotate", notes, "-o", tmp_path / "out1", "--pipeline", test_pipeline, "--max-chars", "100"),
        cli("-v", "annotate", table, "-o", tmp_path / "out2", "--pipeline", test_pipeline),
    ]
    assert all(result.exit_code == 0 for result in quiet)
    warnings = [record for record in caplog.records if record.name.startswith("clinlink")]
    assert any("long.txt" in record.getMessage() for record in warnings)  # the oversized note is reported...
    assert any("decoded as cp1252" in record.getMessage() for record in warnings)
    assert any("duplicate id" in record.getMessage() for record in warnings)
    assert SECRET not in caplog.text  # ...by file and id, never by its text
    for result in quiet:
        assert SECRET not in result.output
    for out in ("out1", "out2"):
        assert SECRET not in (tmp_path / out / "errors.jsonl").read_text(encoding="utf-8")
    caplog.clear()
    verbose = cli("annotate", table, "-o", tmp_path / "out3", "--pipeline", test_pipeline, "--log-text")
    assert verbose.exit_code == 0
    assert f"Second {SECRET} note." in caplog.text


def test_formats_parquet_csv_docbin_brat(cli, notes_dir, tmp_path, test_pipeline, records_of, sample_notes):
    from spacy.tokens import DocBin
    import spacy

    jsonl = tmp_path / "jsonl"
    assert cli("annotate", notes_dir, "-o", jsonl, "--pipeline", test_pipeline).exit_code == 0
    expected = {(r["id"], e["start"], e["end"], e["concept_id"], e["assertion"]) for r in records_of(jsonl) for e in r["entities"]}
    assert len(expected) >= 8

    for fmt in ("parquet", "csv"):
        out = tmp_path / fmt
        assert cli("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline, "--format", fmt, "--shard-size", "2").exit_code == 0
        files = sorted((out / "mentions").glob(f"part-*.{fmt}"))
        assert len(files) == 2 and len(list((out / "notes").glob(f"part-*.{fmt}"))) == 2
        frame = pd.concat([pd.read_parquet(f) if fmt == "parquet" else pd.read_csv(f) for f in files])
        assert {(r.id, r.start, r.end, r.concept_id, r.assertion) for r in frame.itertuples()} == expected
        notes = pd.read_parquet(out / "notes") if fmt == "parquet" else pd.concat(map(pd.read_csv, sorted((out / "notes").glob("*.csv"))))
        assert sorted(notes["id"]) == sorted(name[:-4] for name in sample_notes)

    docbin = tmp_path / "docbin"
    assert cli("annotate", notes_dir, "-o", docbin, "--pipeline", test_pipeline, "--format", "docbin").exit_code == 0
    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(docbin / "part-00000.spacy").get_docs(nlp.vocab))
    found = {(d.user_data["clinlink_id"], e.start_char, e.end_char, e._.concept_id, e._.assertion) for d in docs for e in d.ents}
    assert found == expected

    brat = tmp_path / "brat"
    assert cli("annotate", notes_dir, "-o", brat, "--pipeline", test_pipeline, "--format", "brat").exit_code == 0
    report = (brat / "cxr" / "report1.txt").read_text(encoding="utf-8")
    assert report == sample_notes["cxr/report1.txt"]
    found = set()
    for ann in brat.rglob("*.ann"):
        text = ann.with_suffix(".txt").read_text(encoding="utf-8")
        lines = ann.read_text(encoding="utf-8").splitlines()
        spans = {}
        for line in lines:
            key, body = line.split("\t", 1)
            if key.startswith("T"):
                label_offsets, covered = body.split("\t")
                _, offsets = label_offsets.split(" ", 1)
                start, end = (int(x) for x in offsets.split(" "))
                assert text[start:end] == covered
                spans[key] = [start, end, None, None]
            elif key.startswith("N"):
                _, target, concept = body.split("\t")[0].split(" ")
                spans[target][2] = concept
            elif key.startswith("A") and body.startswith("Assertion"):
                _, target, value = body.split(" ")
                spans[target][3] = value
        doc_id = ann.relative_to(brat).with_suffix("").as_posix()
        found |= {(doc_id, *span) for span in spans.values()}
    assert {tuple(item) for item in found} == expected


def test_two_processes_give_the_same_output_as_one(cli, tmp_path, test_pipeline, records_of, make_notes, sample_notes):
    notes = make_notes(tmp_path / "notes", {f"n{i:03d}.txt": text for i, text in enumerate(list(sample_notes.values()) * 10)})
    one, two = tmp_path / "one", tmp_path / "two"
    assert cli("annotate", notes, "-o", one, "--pipeline", test_pipeline, "--shard-size", "7").exit_code == 0
    result = cli("annotate", notes, "-o", two, "--pipeline", test_pipeline, "--shard-size", "7", "--n-process", "2", "--batch-size", "4")
    assert result.exit_code == 0, result.output
    assert records_of(two) == records_of(one)
    assert len(records_of(one)) == 40


def test_rerank_switches_on_the_linkers_cross_encoder(cli, notes_dir, tmp_path, test_pipeline, records_of):
    from clinlink.batch.core import _PIPELINES
    from clinlink.linking.encoder import model_dir
    from clinlink.linking.rerank import DEFAULT_CROSS_ENCODER, CrossEncoderReranker

    with_linker = tmp_path / "with-linker.yaml"
    with_linker.write_text(test_pipeline.read_text(encoding="utf-8") + "  - name: linker\n    factory: clinlink_linker\n", encoding="utf-8")
    result = cli("annotate", notes_dir, "-o", tmp_path / "reranked", "--pipeline", with_linker, "--rerank", "default")
    assert result.exit_code == 0, result.output
    loaded = [nlp for spec, nlp in _PIPELINES.items() if spec.name_or_path == str(with_linker) and "reranker" in spec.overrides]
    reranker = loaded[0].get_pipe("linker").linker.reranker
    assert isinstance(reranker, CrossEncoderReranker) and reranker.model_dir == model_dir(DEFAULT_CROSS_ENCODER)
    assert {r["id"] for r in records_of(tmp_path / "reranked")} == {"cxr/report1", "cxr/report2", "clinic/visit", "short"}
    excluded = cli("annotate", notes_dir, "-o", tmp_path / "no", "--pipeline", with_linker, "--rerank", "default", "--exclude", "linker")
    assert excluded.exit_code == 2 and "needs the linker" in excluded.output
    no_linker = cli("annotate", notes_dir, "-o", tmp_path / "none", "--pipeline", test_pipeline, "--rerank", "default")
    assert no_linker.exit_code == 1 and "no component named 'linker'" in no_linker.output


def test_users_add_short_forms_and_names_from_the_command_line(cli, tmp_path, test_pipeline, records_of, make_notes):
    notes = make_notes(tmp_path / "notes", {"a.txt": "FINDINGS: Small PLEF. Water on the lung again."})
    lexicon = tmp_path / "shorthand.yaml"
    lexicon.write_text("PLEF: {senses: [{expansion: pleural effusion}]}\n", encoding="utf-8")
    names = tmp_path / "names.yaml"
    names.write_text("HP:9000002: [water on the lung]\n", encoding="utf-8")
    out = tmp_path / "out"
    result = cli("annotate", notes, "-o", out, "--pipeline", test_pipeline, "--shorthand", lexicon, "--extra-names", names)
    assert result.exit_code == 0, result.output
    entities = {e["text"]: e for e in records_of(out)[0]["entities"]}
    assert entities["PLEF"]["concept_id"] == "HP:9000002"
    assert entities["Water on the lung"]["concept_id"] == "HP:9000002"
    missing = cli("annotate", notes, "-o", tmp_path / "out2", "--pipeline", test_pipeline, "--shorthand", tmp_path / "nope.yaml")
    assert missing.exit_code != 0 and "nope.yaml" in missing.output


def test_users_pass_their_coding_lexicon_from_the_command_line(cli, tmp_path, test_pipeline, records_of, make_notes):
    notes = make_notes(tmp_path / "notes", {"a.txt": "FINDINGS: a wet lung base on the left."})
    lexicon = tmp_path / "coding.tsv"
    lexicon.write_text("phrase\tcode\tdocuments\tprecision\nwet lung base\tF10.9\t3\t0.8\n", encoding="utf-8")
    out = tmp_path / "out"
    result = cli("annotate", notes, "-o", out, "--pipeline", test_pipeline, "--coding-lexicon", lexicon)
    assert result.exit_code == 0, result.output
    entities = {e["text"]: e for e in records_of(out)[0]["entities"]}
    assert entities["wet lung base"]["concept_id"] == "ICD10CM:F10.9"
    plain = cli("annotate", notes, "-o", tmp_path / "plain", "--pipeline", test_pipeline)
    assert "wet lung base" not in {e["text"] for e in records_of(tmp_path / "plain")[0]["entities"]}
