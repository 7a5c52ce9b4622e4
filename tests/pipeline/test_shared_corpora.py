"""Every document of ../shared through the shipped pipelines: no text makes a pipeline raise.

Reads the notes (ACI-BENCH, MTS-Dialog), the coding case reports (CodiEsp train, dev and unlabeled), the
radiology reports (Indiana), the phenotype corpora (GSC+, GeneReviews) and the assertion sentences (NegEx kit,
BioScope clinical). Skipped with a message when ../shared is absent. A few minutes on 2 cores.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import clinlink

pytestmark = pytest.mark.slow

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ASSERTIONS = {"present", "absent", "possible", "conditional", "hypothetical", "family"}


def _csv_column(path: Path, *columns: str) -> Iterator[str]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            yield "\n".join(row.get(column) or "" for column in columns)


def _text_files(folder: Path) -> Iterator[str]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in ("", ".txt"):
            yield path.read_text(encoding="utf-8", errors="replace")


def shared_texts() -> dict[str, list[str]]:
    """Corpus name -> its documents (one text each)."""
    notes = SHARED / "notes"
    corpora = {
        "aci-bench": [t for p in sorted((notes / "aci-bench").glob("*.csv")) if "metadata" not in p.name for t in _csv_column(p, "note")],
        "mts-dialog": [t for p in sorted((notes / "mts-dialog").rglob("*.csv")) for t in _csv_column(p, "section_text")],
        "codiesp": [t for split in ("train", "dev", "unlabeled") for t in _text_files(SHARED / "coding" / "codiesp_en" / split)],
        "indiana": list(_csv_column(SHARED / "radiology" / "indiana_reports.csv", "indication", "findings", "impression")),
        "gscplus": [block.split("\n")[1] for block in (SHARED / "hpo" / "gscplus_dev.tsv").read_text(encoding="utf-8").strip().split("\n\n")],
        "genereviews": list(_text_files(SHARED / "hpo" / "genereviews" / "corpus")),
        "negex": [row["sentence"] for row in csv.DictReader((SHARED / "negex" / "negex_dev.tsv").open(encoding="utf-8"), delimiter="\t")],
        "bioscope": [json.loads(line)["text"] for line in (SHARED / "assertion" / "bioscope_clinical" / "bioscope_clinical_dev.jsonl").open(encoding="utf-8")],
    }
    return corpora


@pytest.fixture(scope="module")
def corpora() -> dict[str, list[str]]:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not found: the shared evaluation data sits beside the repo as ../shared")
    return shared_texts()


def test_every_corpus_is_read(corpora):
    assert all(corpora.values()), [name for name, texts in corpora.items() if not texts]
    assert len(corpora["codiesp"]) == 500 + 250 + 2749


@pytest.mark.parametrize("pipeline", ["clinical", "radiology", "phenotype"])
def test_pipeline_annotates_every_shared_document(pipeline, corpora, default_kb):
    nlp = clinlink.load(pipeline)
    for name, texts in corpora.items():
        count = 0
        for text, doc in zip(texts, nlp.pipe(texts, batch_size=64)):
            assert doc.text == text
            for entity in doc.ents:
                assert text[entity.start_char : entity.end_char] == entity.text
                assert entity._.assertion in ASSERTIONS
            count += 1
        assert count == len(texts), f"{pipeline} on {name}: {count} of {len(texts)} documents"
