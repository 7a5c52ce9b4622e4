"""Shared, session-scoped fixtures: knowledge bases are built once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinlink.kb import KnowledgeBase, build_kb, load_compiled, load_kb

FIXTURES = Path(__file__).parent / "fixtures"


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
def default_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """The real default KB (HPO + ICD-10-CM from the installed packages), built once into a
    temporary ``CLINLINK_HOME`` that stays set for the session, so ``load_kb()`` finds it too.
    ``CLINLINK_TEST_HOME`` names a home to use instead (a developer's, with the linker's indexes built)."""
    home = os.environ.get("CLINLINK_TEST_HOME") or tmp_path_factory.mktemp("clinlink_home")
    previous = os.environ.get("CLINLINK_HOME")
    os.environ["CLINLINK_HOME"] = str(home)
    try:
        yield load_kb()
    finally:
        if previous is None:
            os.environ.pop("CLINLINK_HOME", None)
        else:
            os.environ["CLINLINK_HOME"] = previous


@pytest.fixture(scope="session")
def default_linker(default_kb: KnowledgeBase):
    """``Linker.from_kb`` over the default KB with the default encoder; its indexes are built once per
    session into the session's KB dir (a few minutes on 2 cores), then every user loads them."""
    from clinlink.linking import Linker

    return Linker.from_kb(default_kb)
