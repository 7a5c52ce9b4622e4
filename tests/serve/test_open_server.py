"""A server bound beyond loopback without a key, with two workers and one allowed browser origin."""

from __future__ import annotations

import re
import time

import httpx
import pytest

ORIGIN = "https://ehr.example"


@pytest.fixture(scope="module")
def open_server(start_server, serve_pipeline):
    return start_server("--pipeline", serve_pipeline, "--host", "0.0.0.0", "--workers", 2, "--cors-origin", ORIGIN)


def test_binding_beyond_loopback_without_a_key_warns(open_server):
    assert "warning: binding 0.0.0.0 without an API key" in " ".join(open_server.log().split())
    assert httpx.post(open_server.url + "/annotate", json={"text": "Chylothorax."}).status_code == 200  # no key needed


def test_each_worker_loads_the_pipeline_once(open_server):
    for _ in range(600):  # the first worker may answer /health before the second has loaded
        loads = re.findall(r"worker (\d+): pipeline serve-test loaded", open_server.log())
        if len(loads) == 2:
            break
        time.sleep(0.1)
    assert len(loads) == 2 and len(set(loads)) == 2, open_server.log()
    records = [httpx.post(open_server.url + "/annotate", json={"text": f"No chylothorax {n}."}).json() for n in range(6)]
    assert all(record["entities"][0]["assertion"] == "absent" for record in records)


def test_cors_allows_only_the_given_origin(open_server):
    allowed = httpx.options(open_server.url + "/annotate", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ORIGIN
    other = httpx.get(open_server.url + "/pipelines", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers
