"""``clinlink serve`` as clients use it: the real server on a loopback port, over the fixture KB."""

from __future__ import annotations

import base64
import json
import threading
import time

import httpx
import pytest
from typer.testing import CliRunner

from clinlink.cli.main import app

KEY = "s3cret-key"
AUTH = {"X-API-Key": KEY}
MAX_CHARS = 2000
NOTE = "FINDINGS: Small pleural effusion on the right. No chylothorax.\n\nIMPRESSION: Heart enlargement.\n"
MARKER = "Quillfeather"  # in notes sent below; must never reach the server's log


@pytest.fixture(scope="module")
def server(start_server, serve_pipeline):
    return start_server("--pipeline", serve_pipeline, "--api-key", KEY, "--max-chars", MAX_CHARS, "--batch-wait-ms", 50)


def post(server, body, path="/annotate", headers=AUTH, **kwargs) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body)
    return httpx.post(server.url + path, content=content, headers={"Content-Type": "application/json", **headers}, timeout=60, **kwargs)


def mentions(record: dict) -> list[tuple[str, str, str]]:
    return [(entity["text"], entity["assertion"], entity["concept_id"]) for entity in record["entities"]]


def test_a_note_gives_the_record_clinlink_annotate_writes(server, serve_pipeline, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "visit.txt").write_text(NOTE, encoding="utf-8")
    result = CliRunner().invoke(app, ["annotate", str(tmp_path / "notes"), "-o", str(tmp_path / "out"), "--pipeline", str(serve_pipeline)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    expected = json.loads((tmp_path / "out" / "part-00000.jsonl").read_text(encoding="utf-8"))

    response = post(server, {"text": NOTE, "id": "visit"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected
    assert mentions(expected) == [
        ("pleural effusion", "present", "HP:9000002"), ("chylothorax", "absent", "HP:9000003"), ("Heart enlargement", "present", "HP:9000006"),
    ]


def test_a_list_of_notes_gives_their_records_in_order(server):
    response = post(server, {"notes": [{"text": "No pleural effusion.", "id": "a"}, {"text": "Mother had heart enlargement."}, {"text": "Nothing here."}]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errors"] == []
    assert [record["id"] for record in body["records"]] == ["a", "note-2", "note-3"]
    assert [mentions(record) for record in body["records"]] == [
        [("pleural effusion", "absent", "HP:9000002")], [("heart enlargement", "family", "HP:9000006")], [],
    ]


def test_a_single_note_without_id_is_named_note(server):
    assert post(server, {"text": "Chylothorax."}).json()["id"] == "note"


def test_format_fhir_answers_the_bundle_of_the_record(server):
    from fhir.resources.R4B.bundle import Bundle

    from clinlink.io.fhir import note_bundle

    note = {"text": "No pleural effusion. Mother had chylothorax.", "id": "n7"}
    record = post(server, note).json()
    bundle = post(server, note, path="/annotate?format=fhir").json()
    assert bundle == note_bundle(record)
    Bundle.model_validate(bundle)
    assert [entry["resource"]["resourceType"] for entry in bundle["entry"]] == ["DocumentReference", "Condition", "FamilyMemberHistory"]
    several = post(server, {"notes": [note, {"text": "Chylothorax.", "id": "n8"}]}, path="/annotate?format=fhir").json()
    assert [b["id"] for b in several["bundles"]] == [bundle["id"], note_bundle(post(server, {"text": "Chylothorax.", "id": "n8"}).json())["id"]]
    assert several["errors"] == []


def test_curl_style_form_content_type_is_read_as_json(server):
    """``curl -d '{...}'`` labels the body application/x-www-form-urlencoded."""
    response = httpx.post(server.url + "/annotate", content='{"text": "No pleural effusion."}', headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text
    assert mentions(response.json()) == [("pleural effusion", "absent", "HP:9000002")]


def test_pipelines_lists_what_is_served_and_requests_may_name_it(server, serve_pipeline):
    listed = httpx.get(server.url + "/pipelines", headers=AUTH).json()
    assert listed == [{"name": "serve-test", "description": "Fixture KB, no linker.", "components": ["segmenter", "ner", "context"], "default": True}]
    for name in ("serve-test", str(serve_pipeline)):
        assert post(server, {"text": "Chylothorax.", "pipeline": name}).status_code == 200
    response = post(server, {"text": "Chylothorax.", "pipeline": "radiology"})
    assert response.status_code == 422
    assert response.json() == {"detail": "pipeline 'radiology' is not served here; served: serve-test"}


def test_concepts_gives_the_kb_view(server):
    response = httpx.get(server.url + "/concepts/HP:9000002", headers=AUTH)
    assert response.status_code == 200, response.text
    concept = response.json()
    assert (concept["id"], concept["name"], concept["source"]) == ("HP:9000002", "Pleural effusion", "HP")
    assert {"name": "Fluid in the pleural space", "kind": "EXACT"} in concept["synonyms"]
    assert concept["codes"]["UMLS"] == ["C9000002"] and concept["codes"]["SNOMEDCT"] == ["900000002000"]
    assert concept["parents"] == [{"id": "HP:9000001", "name": "Abnormality of the pleura"}]
    missing = httpx.get(server.url + "/concepts/HP:1234567", headers=AUTH)
    assert missing.status_code == 404 and missing.json() == {"detail": "'HP:1234567' is not in the knowledge base"}


@pytest.mark.parametrize("headers", [
    {"X-API-Key": KEY},
    {"Authorization": f"Bearer {KEY}"},
    {"Authorization": "Basic " + base64.b64encode(f"anyone:{KEY}".encode()).decode()},
], ids=["x-api-key", "bearer", "basic"])
def test_the_key_is_accepted_in_each_header(server, headers):
    assert post(server, {"text": "Chylothorax."}, headers=headers).status_code == 200
    assert httpx.get(server.url + "/pipelines", headers=headers).status_code == 200


@pytest.mark.parametrize("path", ["/annotate", "/pipelines", "/concepts/HP:9000002", "/", "/openapi.json"])
def test_every_route_but_health_needs_the_key(server, path):
    send = (lambda headers: post(server, {"text": "x"}, headers=headers)) if path == "/annotate" else (
        lambda headers: httpx.get(server.url + path, headers=headers))
    missing, wrong = send({}), send({"X-API-Key": "guess"})
    assert missing.status_code == 401 and missing.json()["detail"].startswith("missing API key")
    assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong API key"
    assert missing.headers["WWW-Authenticate"].startswith("Basic")  # browsers ask for it, so the page works
    assert send(AUTH).status_code == 200


def test_health_answers_without_the_key(server):
    response = httpx.get(server.url + "/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_too_much_note_text_is_413_with_the_reason(server):
    response = post(server, {"notes": [{"text": "a" * 1500}, {"text": "b" * 501}]})
    assert response.status_code == 413
    assert response.json() == {"detail": "request too large: 2,001 characters of note text, more than --max-chars 2,000"}
    assert post(server, {"text": "a" * MAX_CHARS}).status_code == 200


def test_a_body_beyond_the_byte_limit_is_413_before_it_is_read(server):
    limit = 6 * MAX_CHARS + 64 * 1024
    declared = post(server, b" " * (limit + 1))
    assert declared.status_code == 413 and declared.json()["detail"] == f"request too large: {limit + 1:,} bytes, more than {limit:,}"

    def chunks():  # no Content-Length: sent chunked, counted as it arrives
        for _ in range(20):
            yield b" " * 8192

    streamed = httpx.post(server.url + "/annotate", content=chunks(), headers=AUTH)
    assert streamed.status_code == 413 and streamed.json()["detail"] == f"request too large: more than {limit:,} bytes"


@pytest.mark.parametrize(("body", "detail"), [
    (b'{"text": "No pleural', "body is not JSON: EOF while parsing a string at line 1 column 20"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "body is binary (contains NUL bytes), not JSON"),
    (b"\xff\xfe\xfa not utf-8", "body is not JSON: expected value at line 1 column 1"),
    (b"", "body is not JSON: EOF while parsing a value at line 1 column 0"),
    ({"text": 12}, "invalid request: text: Input should be a valid string"),
    ({"txt": "No pleural effusion."}, "invalid request: text: Field required; txt: Extra inputs are not permitted"),
    ({"notes": []}, "invalid request: notes: List should have at least 1 item after validation, not 0"),
    ({"notes": [{"id": "a"}]}, "invalid request: notes.0.text: Field required"),
    (["No pleural effusion."], "invalid request: body: Input should be an object"),
], ids=["truncated", "binary", "not-utf8", "empty", "wrong-type", "misspelt-field", "no-notes", "note-without-text", "bare-list"])
def test_bad_bodies_are_422_with_the_reason(server, body, detail):
    response = post(server, body)
    assert response.status_code == 422, response.text
    assert response.json() == {"detail": detail}


def test_an_unknown_format_is_422(server):
    response = post(server, {"text": "Chylothorax."}, path="/annotate?format=xml")
    assert response.status_code == 422 and response.json() == {"detail": "invalid request: format: Input should be 'json' or 'fhir'"}


def test_concurrent_requests_share_batches(server):
    """Eight clients at once: each gets its own note back, in fewer nlp.pipe batches than requests."""
    before = httpx.get(server.url + "/health").json()
    barrier, answers = threading.Barrier(8), {}

    def client(number: int) -> None:
        text = f"Note {number}: no pleural effusion." if number % 2 else f"Note {number}: chylothorax."
        barrier.wait()
        answers[number] = post(server, {"text": text, "id": f"n{number}"}).json()

    threads = [threading.Thread(target=client, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = httpx.get(server.url + "/health").json()
    for number, record in answers.items():
        assert record["id"] == f"n{number}" and record["text"].startswith(f"Note {number}:")
        assert mentions(record) == ([("pleural effusion", "absent", "HP:9000002")] if number % 2 else [("chylothorax", "present", "HP:9000003")])
    assert after["notes"] - before["notes"] == 8
    assert after["batches"] - before["batches"] < 8


def test_note_text_never_reaches_the_log(server):
    note = f"{MARKER} has no pleural effusion."
    assert post(server, {"text": note, "id": "marked"}).status_code == 200
    assert post(server, {"text": MARKER * 200}).status_code == 413
    assert post(server, {"text": MARKER, "extra": MARKER}).status_code == 422
    assert post(server, f'{{"text": "{MARKER}'.encode()).status_code == 422
    log = server.log()
    assert f"annotated 1 note(s), {len(note)} characters, with serve-test" in log  # requests are logged, by size
    assert MARKER not in log


def test_openapi_schema_documents_the_routes_and_the_key(server):
    schema = httpx.get(server.url + "/openapi.json", headers=AUTH).json()
    assert set(schema["paths"]) == {"/annotate", "/health", "/pipelines", "/concepts/{concept_id}"}
    request = schema["paths"]["/annotate"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert request == {"$ref": "#/components/schemas/AnnotateRequest"}
    components = schema["components"]["schemas"]
    assert {"NoteRequest", "NotesRequest", "Record", "Records", "Mention", "Concept"} <= set(components)
    assert "assertion" in components["Mention"]["properties"]
    assert schema["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schema["paths"]["/health"]["get"]["security"] == []


def test_cors_is_off_by_default(server):
    response = httpx.get(server.url + "/pipelines", headers={**AUTH, "Origin": "https://elsewhere.example"})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
    preflight = httpx.options(server.url + "/annotate", headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_an_unknown_pipeline_is_one_line_and_exit_1():
    result = CliRunner().invoke(app, ["serve", "--pipeline", "no-such-pipeline"])
    assert result.exit_code == 1
    assert "no pipeline named 'no-such-pipeline'" in result.output and "Traceback" not in result.output


def test_a_full_queue_is_503_with_retry_after(start_server, serve_pipeline):
    """Queue of one note; a batch waits 3 s to fill: the first note holds the queue while its batch waits."""
    server = start_server("--pipeline", serve_pipeline, "--queue-size", 1, "--batch-wait-ms", 3000)
    first: list[httpx.Response] = []
    holder = threading.Thread(target=lambda: first.append(httpx.post(server.url + "/annotate", json={"text": "Chylothorax."}, timeout=60)))
    holder.start()
    time.sleep(0.5)
    refused = httpx.post(server.url + "/annotate", json={"text": "No chylothorax."}, timeout=60)
    holder.join()
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.json() == {"detail": "busy: 1 notes are waiting (queue size 1); retry later"}
    assert first[0].status_code == 200


def test_a_malformed_pipeline_config_is_one_line_and_exit_1(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\ncomponents: not-a-list\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["serve", "--pipeline", str(broken)])
    assert result.exit_code == 1
    assert "broken.yaml: expected a mapping with a 'components' list" in " ".join(result.output.split())
