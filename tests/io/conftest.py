"""Docs with hand-set extension values (as the pipeline sets them) for the writer and render tests."""

from __future__ import annotations

import pytest
import spacy
from spacy.tokens import Doc

from clinlink.extensions import register_extensions

TEXT = "FINDINGS: No pleural\neffusion. Mild cardiomegaly.\nFAMILY HISTORY: Mother had asthma."


@pytest.fixture()
def annotated_doc() -> Doc:
    register_extensions()
    nlp = spacy.blank("en")
    doc = nlp(TEXT)
    doc._.sections = [[0, 50, "findings", "FINDINGS"], [50, len(TEXT), "family_history", "FAMILY HISTORY"]]
    effusion = doc.char_span(13, 29, label="DISO")
    effusion._.concept_id, effusion._.concept_name, effusion._.score = "HP:0002202", "Pleural effusion", 0.97
    effusion._.assertion = "absent"
    effusion._.codes = {"ICD10CM": [["J90", "Pleural effusion, not elsewhere classified", 0.93]], "UMLS": [["C0032227", None, None]]}
    effusion._.candidates = [["HP:0002202", "Pleural effusion", 0.97], ["HP:0100760", "Pleural fluid", 0.41]]
    cardiomegaly = doc.char_span(36, 48, label="DISO")
    cardiomegaly._.concept_id, cardiomegaly._.concept_name, cardiomegaly._.score = "HP:0001640", "Cardiomegaly", 1.0
    asthma = doc.char_span(TEXT.index("asthma"), len(TEXT) - 1, label="DISO")
    asthma._.concept_id, asthma._.concept_name = "HP:0002099", "Asthma"
    asthma._.assertion, asthma._.historical = "family", True
    doc.ents = [effusion, cardiomegaly, asthma]
    doc._.codes = {"ICD10CM": [{"code": "I51.7", "name": "Cardiomegaly", "score": 1.0, "mentions": [[36, 48, "cardiomegaly"]]}]}
    assert [span.text for span in doc.ents] == ["pleural\neffusion", "cardiomegaly", "asthma"]
    return doc



@pytest.fixture(scope="session")
def test_pipeline_for_render(fixture_kb, tmp_path_factory):
    """Segmenter, NER over the fixture KB and ConText: assertions to colour."""
    path = tmp_path_factory.mktemp("render_pipeline") / "render-test.yaml"
    path.write_text(
        f"name: render-test\nlang: en\nkb: {fixture_kb.path}\ncomponents:\n"
        "  - {factory: clinlink_segmenter, name: segmenter}\n"
        "  - {factory: clinlink_ner, name: ner}\n"
        "  - {factory: clinlink_context, name: context}\n",
        encoding="utf-8",
    )
    return path
