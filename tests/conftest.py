"""Shared, session-scoped fixtures: knowledge bases are built once per test session.

The suite never touches the user's cache: every test session gets its own ``CLINLINK_HOME``
(inherited by the CLI runs and worker processes the tests start), removed at exit.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from clinlink.kb import KnowledgeBase, build_kb, load_compiled, load_kb

FIXTURES = Path(__file__).parent / "fixtures"
TEST_HOME = tempfile.mkdtemp(prefix="clinlink-test-home-")
os.environ["CLINLINK_HOME"] = TEST_HOME
atexit.register(shutil.rmtree, TEST_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """``tests/fixtures``: small files in the real formats, with made-up codes."""
    return FIXTURES


@pytest.fixture(scope="session")
def fixture_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """A tiny KB compiled from every loader's fixture (mini OBO, ICD-10-CM XML, UMLS RRF, SNOMED CT RF2)."""
    out = tmp_path_factory.mktemp("fixture_kb")
    return load_compiled(build_kb(FIXTURES / "fixture_kb.yaml", out))


@pytest.fixture(scope="session")
def default_kb() -> KnowledgeBase:
    """The real default KB (HPO + ICD-10-CM from the installed packages), compiled once into the session's
    ``CLINLINK_HOME``, so ``load_kb()`` and ``clinlink.load()`` find it too."""
    return load_kb()


@pytest.fixture(scope="session")
def default_linker(default_kb: KnowledgeBase):
    """``Linker.from_kb`` over the default KB with the default encoder; its indexes are built once per
    session into the session's KB dir (from the name vectors shipped with the encoder), then every user loads them."""
    from clinlink.linking import Linker

    return Linker.from_kb(default_kb)
