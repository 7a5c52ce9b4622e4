"""The page at ``/`` in headless Chromium: paste a note, annotate, read the highlighted mentions from the DOM."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from clinlink.io.render import assertion_colors
from tests.serve.browser import Browser

KEY = "page-key"
NOTE = "FINDINGS: No pleural effusion. Heart enlargement.\nFAMILY HISTORY: Mother had chylothorax.\n"


@pytest.fixture(scope="module")
def server(start_server, serve_linked_pipeline):
    return start_server("--pipeline", serve_linked_pipeline, env={"CLINLINK_API_KEY": KEY})  # the key from the environment


@pytest.fixture()
def page(server, tmp_path):
    """The page, loaded with the API key sent on every request (as the browser does once a user typed it)."""
    browser = Browser(tmp_path / "profile")
    try:
        browser.send("Network.enable")
        browser.send("Network.setExtraHTTPHeaders", headers={"X-API-Key": KEY})
        browser.send("Page.setDownloadBehavior", behavior="allow", downloadPath=str(tmp_path / "downloads"))
        browser.send("Page.navigate", url=server.url + "/")
        browser.wait_for("document.readyState === 'complete' && document.querySelectorAll('#pipeline option').length > 0")
        yield browser
    finally:
        browser.close()


def rgb(hex_color: str) -> str:
    return "rgb({}, {}, {})".format(*(int(hex_color[i : i + 2], 16) for i in (1, 3, 5)))


MARKS = """JSON.stringify([...document.querySelectorAll('#highlight mark')].map((mark) => [
  mark.querySelector('.text').textContent, mark.dataset.assertion, mark.dataset.concept, getComputedStyle(mark).backgroundColor]))"""


def test_a_pasted_note_comes_back_highlighted_with_its_codes(page, tmp_path):
    page.evaluate("document.getElementById('note').focus()")
    page.send("Input.insertText", text=NOTE)  # as a paste: text into the focused field
    page.evaluate("document.getElementById('annotate').click()")
    page.wait_for("document.querySelectorAll('#highlight mark').length > 0")

    colors = assertion_colors()
    assert json.loads(page.evaluate(MARKS)) == [
        ["pleural effusion", "absent", "HP:9000002", rgb(colors["absent"])],
        ["Heart enlargement", "present", "HP:9000006", rgb(colors["present"])],
        ["chylothorax", "family", "HP:9000003", rgb(colors["family"])],
    ]
    assert page.evaluate("document.getElementById('highlight').textContent.includes('FAMILY HISTORY: Mother had')")
    assert page.evaluate("document.getElementById('status').textContent") == "3 mentions, 3 linked to a concept."
    rows = json.loads(page.evaluate("JSON.stringify([...document.querySelectorAll('#mentions tbody tr')].map((row) => [...row.cells].map((cell) => cell.textContent)))"))
    assert [row[:4] for row in rows] == [
        ["pleural effusion", "absent", "findings", "HP:9000002 Pleural effusion"],
        ["Heart enlargement", "present", "findings", "HP:9000006 Heart enlargement"],
        ["chylothorax", "family", "family_history", "HP:9000003 Chylothorax"],
    ]
    assert rows[0][6] == "no (absent)"
    codes = json.loads(page.evaluate("JSON.stringify([...document.querySelectorAll('#codes tbody tr')].map((row) => [...row.cells].map((cell) => cell.textContent)))"))
    assert ["UMLS", "C9000002", "Pleural effusion", "absent"] in codes and ["HPO", "HP:9000006", "Heart enlargement", "present"] in codes

    shot = page.screenshot(tmp_path / "page.png")  # the test's artifact: the page as a user sees it
    from PIL import Image

    import numpy as np

    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    for status in ("absent", "present", "family"):
        target = np.array([int(colors[status][i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(image - target).max(axis=2) <= 4).sum() > 500, status  # a highlighted mention, not only the legend swatch


def test_an_uploaded_note_is_annotated_and_its_json_downloads(page, tmp_path):
    note = tmp_path / "visit-7.txt"
    note.write_text("Small pleural effusion.\n", encoding="utf-8")
    root = page.send("DOM.getDocument")["root"]["nodeId"]
    file_input = page.send("DOM.querySelector", nodeId=root, selector="#file")["nodeId"]
    page.send("DOM.setFileInputFiles", files=[str(note)], nodeId=file_input)
    page.wait_for("document.getElementById('note').value === 'Small pleural effusion.\\n'")
    assert page.evaluate("document.getElementById('note-id').value") == "visit-7"
    page.evaluate("document.getElementById('annotate').click()")
    page.wait_for("document.querySelectorAll('#highlight mark').length === 1")

    record = download(page, "download-json", tmp_path / "downloads" / "visit-7.json")
    assert record["id"] == "visit-7" and record["text"] == "Small pleural effusion.\n"
    assert [(entity["text"], entity["assertion"], entity["concept_id"]) for entity in record["entities"]] == [("pleural effusion", "present", "HP:9000002")]
    bundle = download(page, "download-fhir", tmp_path / "downloads" / "visit-7.fhir.json")
    assert bundle["resourceType"] == "Bundle"
    condition = bundle["entry"][1]["resource"]
    assert condition["resourceType"] == "Condition" and condition["code"]["text"] == "pleural effusion"
    assert {"system": "http://snomed.info/sct", "code": "900000002000"} in condition["code"]["coding"]


def download(page, button: str, path):
    """Clicks a download button; the file's JSON once Chromium wrote it."""
    page.evaluate(f"document.getElementById('{button}').click()")
    deadline = time.monotonic() + 30
    while not path.is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_page_needs_the_key(server):
    assert httpx.get(server.url + "/").status_code == 401
    assert httpx.get(server.url + "/", headers={"X-API-Key": KEY}).text.startswith("<!DOCTYPE html>")


def test_an_empty_note_asks_for_one(page):
    page.evaluate("document.getElementById('annotate').click()")
    assert page.evaluate("document.getElementById('status').textContent") == "Paste or upload a note first."
    assert page.evaluate("document.getElementById('results').hidden") is True
