"""``clinlink annotate --format fhir | bioc | pubtator | omop`` on the synthetic notes, read back with
the formats' own libraries (fhir.resources, bioc) and databases (SQLite, PostgreSQL)."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

POSTGRES_SCRIPT = Path(__file__).parents[2] / ".ci" / "postgres.sh"


@pytest.fixture()
def expected(cli, notes_dir, tmp_path, test_pipeline, records_of) -> dict[tuple[str, int, int], dict]:
    """(note id, start, end) -> the JSONL entity, for every mention of the notes."""
    out = tmp_path / "jsonl"
    assert cli("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline).exit_code == 0
    found = {(r["id"], e["start"], e["end"]): {**e, "note_text": r["text"]} for r in records_of(out) for e in r["entities"]}
    assert len(found) >= 8
    return found


def test_fhir_bundles_validate_and_keep_assertions_codes_and_offsets(cli, notes_dir, tmp_path, test_pipeline, expected):
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle

    out = tmp_path / "fhir"
    result = cli("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline, "--format", "fhir")
    assert result.exit_code == 0, result.output
    bundles = [json.loads(line) for path in sorted(out.glob("part-*.ndjson")) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(bundles) == 4
    seen = {}
    for bundle in bundles:
        Bundle.model_validate(bundle)
        resources = [entry["resource"] for entry in bundle["entry"]]
        for resource in resources:
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        document, *mentions = resources
        assert document["resourceType"] == "DocumentReference"
        note_id = document["identifier"][0]["value"]
        text = base64.b64decode(document["content"][0]["attachment"]["data"]).decode("utf-8")
        for resource in mentions:
            parts = {part["url"]: next(v for k, v in part.items() if k.startswith("value")) for part in resource["extension"][0]["extension"]}
            assert text[parts["start"] : parts["end"]] == parts["text"]
            seen[(note_id, parts["start"], parts["end"])] = resource
    assert set(seen) == {key for key, entity in expected.items() if entity["assertion"] in ("present", "possible", "absent", "family")}
    absent = seen[next(key for key, e in expected.items() if e["text"] == "chylothorax" and e["assertion"] == "absent")]
    assert absent["resourceType"] == "Condition"
    assert absent["verificationStatus"]["coding"][0]["code"] == "refuted" and "clinicalStatus" not in absent
    assert absent["code"]["coding"] == [{"system": "http://human-phenotype-ontology.org", "code": "HP:9000003", "display": "Chylothorax"}]
    present = seen[next(key for key, e in expected.items() if e["concept_id"] == "HP:9000002" and e["assertion"] == "present")]
    assert present["verificationStatus"]["coding"][0]["code"] == "confirmed" and present["clinicalStatus"]["coding"][0]["code"] == "active"
    family = seen[next(key for key, e in expected.items() if e["assertion"] == "family")]
    assert family["resourceType"] == "FamilyMemberHistory"
    assert family["relationship"]["coding"][0]["code"] == "MTH" and family["condition"][0]["code"]["text"] == "heart enlargement"


def test_bioc_is_read_back_with_the_same_annotations(cli, notes_dir, tmp_path, test_pipeline, expected):
    import bioc

    out = tmp_path / "bioc"
    assert cli("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline, "--format", "bioc").exit_code == 0
    found = {}
    for path in sorted(out.glob("part-*.xml")):
        with open(path, encoding="utf-8") as handle:
            collection = bioc.load(handle)
        for document in collection.documents:
            [passage] = document.passages
            for annotation in passage.annotations:
                [location] = annotation.locations
                start, end = location.offset, location.end
                assert passage.text[start:end] == annotation.text
                found[(document.id, start, end)] = (annotation.infons.get("identifier"), annotation.infons["assertion"], annotation.infons.get("UMLS"))
    assert found == {key: (e["concept_id"], e["assertion"], ",".join((e["codes"] or {}).get("UMLS", [])) or None) for key, e in expected.items()}


def test_pubtator_is_read_back_by_the_bioc_package(cli, notes_dir, tmp_path, test_pipeline, expected):
    from bioc import pubtator

    out = tmp_path / "pubtator"
    assert cli("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline, "--format", "pubtator").exit_code == 0
    documents = pubtator.loads((out / "part-00000.pubtator").read_text(encoding="utf-8"))
    assert len(documents) == 4
    found = {}
    for document in documents:
        for annotation in document.annotations:
            assert document.text[annotation.start : annotation.end] == annotation.text
            found[(document.pmid, annotation.start, annotation.end)] = annotation.id
    assert found == {key: e["concept_id"] for key, e in expected.items()}


def write_vocabulary(folder: Path) -> Path:
    """A tiny Athena export: concepts of the fixture KB, a LOINC section, a "Maps to" link (the test pipeline has
    no linker, so mentions carry their HPO id only: one HPO concept is made standard to test both paths)."""
    folder.mkdir()
    header = "concept_id\tconcept_name\tdomain_id\tvocabulary_id\tconcept_class_id\tstandard_concept\tconcept_code\tvalid_start_date\tvalid_end_date\tinvalid_reason"
    rows = [
        "1001\tPleural effusion\tCondition\tHPO\tPhenotype\t\tHP:9000002\t19700101\t20991231\t",
        "2002\tPleural effusion\tCondition\tSNOMED\tDisorder\tS\t900000002000\t19700101\t20991231\t",
        "1003\tChylothorax \"chylous\"\tCondition\tHPO\tPhenotype\tS\tHP:9000003\t19700101\t20991231\t",
        "3001\tProcedure findings\tMeas Value\tLOINC\tLOINC Hierarchy\t\t59776-5\t19700101\t20991231\t",
    ]
    (folder / "CONCEPT.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    relationships = "concept_id_1\tconcept_id_2\trelationship_id\tvalid_start_date\tvalid_end_date\tinvalid_reason\n1001\t2002\tMaps to\t19700101\t20991231\t\n"
    (folder / "CONCEPT_RELATIONSHIP.csv").write_text(relationships, encoding="utf-8")
    return folder


def check_note_nlp(rows: list[dict], expected: dict) -> None:
    """NOTE_NLP rows agree with the JSONL mentions: one row each, OHDSI term_exists / term_temporal / modifiers."""
    from clinlink.io.omop import omop_note_id

    assert len(rows) == len(expected) and len({row["note_nlp_id"] for row in rows}) == len(rows)
    by_key = {(row["note_id"], int(row["offset"]), row["lexical_variant"]): row for row in rows}
    for (note_id, start, _), entity in expected.items():
        row = by_key[(omop_note_id(note_id), start, entity["text"])]
        assert row["term_exists"] == ("Y" if entity["assertion"] == "present" else "N")
        assert row["term_temporal"] == ("past" if entity["historical"] else "present")
        assert entity["text"] in row["snippet"] and str(row["nlp_date"])[:4].isdigit()
    absent = next(row for row in rows if row["lexical_variant"] == "chylothorax" and "negated=true" in row["term_modifiers"])
    assert absent["term_exists"] == "N" and "source=HP:9000003" in absent["term_modifiers"]
    family = next(row for row in rows if "subject=family" in row["term_modifiers"])
    assert family["term_exists"] == "N" and family["lexical_variant"] == "heart enlargement"


def test_omop_note_nlp_in_sqlite_with_vocabulary_and_idempotent_resume(cli, notes_dir, tmp_path, test_pipeline, expected):
    database = tmp_path / "cdm.db"
    vocabulary = write_vocabulary(tmp_path / "athena")
    out = tmp_path / "omop"
    args = ("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline, "--format", "omop", "--db", f"sqlite:///{database}",
            "--omop-vocab", vocabulary, "--shard-size", "2")
    result = cli(*args)
    assert result.exit_code == 0, result.output

    def rows() -> list[dict]:
        with sqlite3.connect(database) as connection:
            connection.row_factory = sqlite3.Row
            return [dict(row) for row in connection.execute("SELECT * FROM note_nlp ORDER BY note_nlp_id")]

    first = rows()
    check_note_nlp(first, expected)
    effusion = next(row for row in first if row["lexical_variant"] == "pleural effusion" and "section=findings" in row["term_modifiers"])
    assert (effusion["note_nlp_source_concept_id"], effusion["note_nlp_concept_id"], effusion["section_concept_id"]) == (1001, 2002, 3001)
    chylothorax = next(row for row in first if row["lexical_variant"] == "chylothorax" and row["term_exists"] == "N")
    assert (chylothorax["note_nlp_source_concept_id"], chylothorax["note_nlp_concept_id"]) == (1003, 1003)  # standard itself
    # A run killed after its database transaction but before the shard's commit record: --resume annotates
    # those notes again and replaces their rows instead of adding them twice.
    (out / "_shards" / "part-00000.json").unlink()
    assert cli(*args, "--resume").exit_code == 0
    again = rows()
    check_note_nlp(again, expected)
    assert {row["note_nlp_id"] for row in again} != {row["note_nlp_id"] for row in first}  # part-00000's rows were rewritten


def test_omop_without_database_writes_note_nlp_csv_with_zero_concepts(cli, notes_dir, tmp_path, test_pipeline, expected):
    import pandas as pd

    out = tmp_path / "omop"
    assert cli("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline, "--format", "omop").exit_code == 0
    frame = pd.read_csv(out / "part-00000.csv", dtype={"offset": str}, keep_default_na=False)
    from clinlink.io.omop import NOTE_NLP_COLUMNS

    assert tuple(frame.columns) == NOTE_NLP_COLUMNS
    check_note_nlp(frame.to_dict("records"), expected)
    assert set(frame["note_nlp_concept_id"]) == {0} and set(frame["section_concept_id"]) == {0}


@pytest.fixture(scope="session")
def postgres_url():
    """CLINLINK_TEST_PG_URL (.ci/run sets it), else a server this session starts with .ci/postgres.sh when
    PostgreSQL is installed; skipped without one, except in CI (CI=true), where a missing server fails."""
    url = os.environ.get("CLINLINK_TEST_PG_URL")
    if url:
        yield url
        return
    folder = tempfile.mkdtemp(prefix="clinlink-pg-")
    started = subprocess.run(["bash", str(POSTGRES_SCRIPT), "start", folder, "--no-install"], capture_output=True, text=True)
    if started.returncode != 0:
        reason = f"no PostgreSQL server: set CLINLINK_TEST_PG_URL or install postgresql ({started.stderr.strip()[-200:]})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield started.stdout.strip().split("=", 1)[1]
    finally:
        subprocess.run(["bash", str(POSTGRES_SCRIPT), "stop", folder], capture_output=True)


def test_omop_note_nlp_in_postgresql(cli, notes_dir, tmp_path, test_pipeline, expected, postgres_url):
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DROP TABLE IF EXISTS note_nlp"))
    out = tmp_path / "omop"
    args = ("annotate", notes_dir, "-o", out, "--pipeline", test_pipeline, "--format", "omop", "--db", postgres_url, "--shard-size", "2")
    result = cli(*args)
    assert result.exit_code == 0, result.output
    query = sqlalchemy.text('SELECT * FROM note_nlp ORDER BY note_nlp_id')
    with engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(query)]
    check_note_nlp(rows, expected)
    (out / "_shards" / "part-00000.json").unlink()
    assert cli(*args, "--resume").exit_code == 0
    with engine.connect() as connection:
        check_note_nlp([dict(row._mapping) for row in connection.execute(query)], expected)
    engine.dispose()


def test_bad_database_url_and_vocabulary_are_one_line_errors(cli, notes_dir, tmp_path, test_pipeline):
    base = ("annotate", notes_dir, "--pipeline", test_pipeline, "--format", "omop")
    not_a_url = cli(*base, "-o", tmp_path / "a", "--db", "not a url")
    assert not_a_url.exit_code == 1 and "--db 'not a url': not a database URL" in not_a_url.output
    unreachable = cli(*base, "-o", tmp_path / "b", "--db", f"sqlite:///{tmp_path}/missing/dir/x.db")
    assert unreachable.exit_code == 1 and "unable to open database file" in unreachable.output
    no_vocabulary = cli(*base, "-o", tmp_path / "c", "--omop-vocab", tmp_path)
    assert no_vocabulary.exit_code == 1 and f"{tmp_path / 'CONCEPT.csv'}: no such file" in " ".join(no_vocabulary.output.split())
    wrong_format = cli("annotate", notes_dir, "-o", tmp_path / "d", "--pipeline", test_pipeline, "--db", "sqlite:///x.db")
    assert wrong_format.exit_code == 1 and "--format omop" in wrong_format.output
    for result in (not_a_url, unreachable, no_vocabulary, wrong_format):
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 2
