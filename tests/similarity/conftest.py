"""A tiny hand-built chest knowledge base: two vocabularies, a hierarchy and a shared CUI."""

from __future__ import annotations

import pytest

from clinlink.kb import Concept, KnowledgeBase


def tiny_concepts() -> list[Concept]:
    return [
        Concept("HP:1", "HP", "Abnormality of the thorax", group="DISO", semantic_types=["Phenotypic abnormality"]),
        Concept("HP:2", "HP", "Abnormality of the pleura", group="DISO", parents=["HP:1"]),
        Concept("HP:3", "HP", "Pleural effusion", group="DISO", parents=["HP:2"], xrefs=["UMLS:C0032227"]),
        Concept("HP:4", "HP", "Left pleural effusion", group="DISO", parents=["HP:3"]),
        Concept("HP:5", "HP", "Pneumothorax", group="DISO", parents=["HP:2"], xrefs=["UMLS:C0032326"]),
        Concept("HP:6", "HP", "Cardiomegaly", group="DISO", parents=["HP:1"], xrefs=["UMLS:C0018800"]),
        Concept("HP:7", "HP", "Atelectasis", group="DISO", parents=["HP:1"]),
        Concept("HP:8", "HP", "Pulmonary nodule", group="DISO", parents=["HP:1"]),
        Concept("HP:9", "HP", "Scoliosis", group="DISO"),
        Concept("HP:10", "HP", "Surgical clip", group="DEVI"),
        Concept("ICD:J90", "ICD", "Pleural effusion, not elsewhere classified", group="DISO", xrefs=["UMLS:C0032227"]),
        Concept("ICD:J98.11", "ICD", "Atelectasis", group="DISO"),
        Concept("ICD:I51.7", "ICD", "Cardiac enlargement", group="DISO", xrefs=["UMLS:C0018800"]),
    ]


@pytest.fixture(scope="session")
def tiny_kb() -> KnowledgeBase:
    return KnowledgeBase(tiny_concepts())
