"""The real server in a subprocess on a free loopback port, over a fast pipeline on the fixture KB."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

PIPELINE_YAML = """\
name: serve-test
description: Fixture KB, no linker.
lang: en
kb: {kb}
components:
  - {{name: segmenter, factory: clinlink_segmenter}}
  - {{name: ner, factory: clinlink_ner}}
  - {{name: context, factory: clinlink_context}}
"""
RUN_CLI = "import sys; from clinlink.cli.main import run; sys.argv[0] = 'clinlink'; run()"
START_TIMEOUT_S = 180  # the default pipeline's first load on a busy 2-core machine


@pytest.fixture(scope="session")
def serve_pipeline(fixture_kb, tmp_path_factory) -> Path:
    """Segmenter, NER over the fixture KB and ConText: loads in about a second."""
    path = tmp_path_factory.mktemp("serve_pipeline") / "serve-test.yaml"
    path.write_text(PIPELINE_YAML.format(kb=fixture_kb.path), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def serve_linked_pipeline(serve_pipeline) -> Path:
    """``serve_pipeline`` plus the linker (default encoder, indexes over the fixture KB): mentions get codes."""
    path = serve_pipeline.with_name("serve-linked.yaml")
    path.write_text(
        serve_pipeline.read_text(encoding="utf-8").replace("name: serve-test", "name: serve-linked")
        + "  - {name: linker, factory: clinlink_linker}\n", encoding="utf-8",
    )
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``clinlink serve ARGS`` in a subprocess; ``log()`` is what it wrote to stdout and stderr."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", RUN_CLI, "serve", "--port", str(self.port), *args],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **(env or {})},
            )
        self.started_s = self._wait_ready()

    def _wait_ready(self) -> float:
        started = time.monotonic()
        while time.monotonic() - started < START_TIMEOUT_S:
            if self.process.poll() is not None:
                raise AssertionError(f"clinlink serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"clinlink serve did not answer /health in {START_TIMEOUT_S} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the server and its worker processes
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture(scope="module")
def start_server(tmp_path_factory):
    """Starts ``clinlink serve ARGS...`` (``env``: more environment variables) and returns it once /health answers;
    stopped at the end of the module."""
    servers: list[Server] = []

    def start(*args: str | Path, env: dict[str, str] | None = None) -> Server:
        server = Server([str(arg) for arg in args], tmp_path_factory.mktemp("serve") / "server.log", env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
