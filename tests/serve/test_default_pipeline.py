"""The README's example against the default pipeline: ``curl -d '{"text": "No pleural effusion."}'``."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_no_pleural_effusion_is_absent_with_its_codes(default_linker, start_server):
    server = start_server()  # the default pipeline; CLINLINK_HOME is the session's, where default_linker built the indexes
    response = httpx.post(
        server.url + "/annotate", content='{"text": "No pleural effusion."}',
        headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=120,  # what curl -d sends
    )
    assert response.status_code == 200, response.text
    [mention] = response.json()["entities"]
    assert (mention["text"], mention["assertion"], mention["concept_id"]) == ("pleural effusion", "absent", "HP:0002202")
    codes = {vocabulary: [entry[0] for entry in entries] for vocabulary, entries in mention["codes"].items()}
    assert codes["HPO"] == ["HP:0002202"] and codes["ICD10CM"] == ["J90"] and codes["UMLS"] == ["C0032227"] and "60046008" in codes["SNOMEDCT"]
    assert mention["candidates"][0][0] == "HP:0002202"
    pipelines = httpx.get(server.url + "/pipelines").json()
    assert [(p["name"], p["components"][-1]) for p in pipelines] == [("clinical", "linker")]
