"""Label sets, the rule labeler's precedence, phrases and the kNN labeler."""

from __future__ import annotations

import pytest

from clinlink.errors import ConfigError
from clinlink.similarity import ConceptSet
from clinlink.similarity.index import ReportIndex
from clinlink.similarity.labels import Finding, KnnLabeler, RuleLabeler, load_label_set
from clinlink.similarity.phrases import PhraseFinder

LABELS = """
name: tiny
labels:
  - name: Effusion
    concepts: [HP:3]
    phrases: [pleural fluid]
    exclude_phrases: [pericardial effusion]
  - name: Pneumothorax
    concepts: [HP:5]
  - name: Cardiomegaly
    concepts: [HP:6]
    phrases: [heart size * enlarged]
  - name: Devices
    phrases: [pacemaker]
normal:
  name: normal
  scope: {scope}
  ignore_labels: [Devices]
  abnormal_phrases: [scoliosis]
"""


@pytest.fixture()
def label_set_file(tmp_path):
    def write(scope: str = "any"):
        path = tmp_path / f"tiny_{scope}.yaml"
        path.write_text(LABELS.replace("{scope}", scope))
        return path

    return write


def f(text, concept_id=None, assertion="present", historical=False, context=""):
    return Finding(text, concept_id, assertion, historical, sentence=f"... {text} ...", cue="", context=context or text)


def test_label_set_expands_descendants_and_synonyms(label_set_file, tiny_kb):
    labels = load_label_set(label_set_file(), tiny_kb)
    effusion = labels.labels[0]
    assert effusion.concept_ids == {"HP:3", "HP:4", "ICD:J90"}
    assert labels.names == ["Effusion", "Pneumothorax", "Cardiomegaly", "Devices", "normal"]
    assert labels.phrases()["pleural fluid"] == "HP:3" and labels.phrases()["pacemaker"] is None


def test_label_set_errors_name_the_file(tmp_path, tiny_kb):
    bad = tmp_path / "bad.yaml"
    bad.write_text("labels:\n  - name: X\n    concepts: [HP:404]\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*HP:404"):
        load_label_set(bad, tiny_kb)
    with pytest.raises(ConfigError, match="no label set named"):
        load_label_set("no_such_labels")


def test_shipped_label_sets_resolve_in_the_default_kb_ids():
    # every concept id of the shipped sets is well formed and the sets load without a KB
    for name, size in (("chestxray14", 15), ("chexpert", 14)):
        labels = load_label_set(name)
        assert len(labels.names) == size
        assert all(c.split(":")[0] in ("HP", "ICD10CM") for label in labels.labels for c in label.concepts)


def test_precedence_present_over_possible_over_absent(label_set_file, tiny_kb):
    labeler = RuleLabeler(load_label_set(label_set_file(), tiny_kb))
    values = labeler.label(
        [
            f("effusion", "HP:3", "absent"),
            f("left effusion", "HP:4", "possible"),
            f("pneumothorax", "HP:5", "absent"),
            f("pneumothorax", "HP:5", "possible"),
            f("heart", "HP:6", "absent"),
        ]
    )
    assert values["Effusion"].value == -1
    assert [e.text for e in values["Effusion"].evidence] == ["left effusion"]
    assert values["Pneumothorax"].value == -1
    assert values["Cardiomegaly"].value == 0
    assert values["Devices"].value is None
    values = labeler.label([f("effusion", "HP:3", "absent"), f("effusion", "ICD:J90", "present"), f("pleural fluid", None, "possible")])
    assert values["Effusion"].value == 1 and values["Effusion"].evidence[0].concept_id == "ICD:J90"


def test_hypothetical_family_and_historical(label_set_file, tiny_kb):
    label_set = load_label_set(label_set_file(), tiny_kb)
    findings = [f("effusion", "HP:3", "hypothetical"), f("pneumothorax", "HP:5", "family"), f("heart", "HP:6", historical=True)]
    values = RuleLabeler(label_set).label(findings)
    assert values["Effusion"].value is None and values["Pneumothorax"].value is None
    assert values["Cardiomegaly"].value == 1
    assert RuleLabeler(label_set, historical="exclude").label(findings)["Cardiomegaly"].value is None
    assert RuleLabeler(label_set, historical="possible").label(findings)["Cardiomegaly"].value == -1


def test_exclusion_phrases(label_set_file, tiny_kb):
    labeler = RuleLabeler(load_label_set(label_set_file(), tiny_kb))
    values = labeler.label([f("effusion", "HP:3", context="small pericardial effusion noted")])
    assert values["Effusion"].value is None


def test_normal_any_finding_or_only_labels(label_set_file, tiny_kb):
    any_scope = RuleLabeler(load_label_set(label_set_file("any"), tiny_kb))
    label_scope = RuleLabeler(load_label_set(label_set_file("labels"), tiny_kb))
    clear = [f("effusion", "HP:3", "absent"), f("pacemaker")]
    assert any_scope.label(clear)["normal"].value == 1  # devices are ignored
    assert label_scope.label(clear)["normal"].value == 1
    scoliosis = [f("scoliosis"), f("pneumothorax", "HP:5", "absent")]
    assert any_scope.label(scoliosis)["normal"].value == 0
    assert [e.text for e in any_scope.label(scoliosis)["normal"].evidence] == ["scoliosis"]
    assert label_scope.label(scoliosis)["normal"].value == 1
    assert any_scope.label([f("pneumothorax", "HP:5", "possible")])["normal"].value == 0
    assert any_scope.label([])["normal"].value == 1


def test_phrase_finder_gaps_stop_at_negation_and_sentence_end():
    finder = PhraseFinder({"heart size * enlarged": "HP:6", "pleural effusion": "HP:3", "air-space disease": None})

    def find(text):
        tokens = text.replace(".", " .").split()
        return [(" ".join(tokens[s:e]), p) for s, e, p in finder.find(tokens)]

    assert find("The heart size is mildly enlarged.") == [("heart size is mildly enlarged", "HP:6")]
    assert find("Heart size is not enlarged.") == []
    assert find("Heart size is normal. Enlarged hila.") == []
    assert find("Small pleural effusions, air-space disease.") == [("pleural effusions,", "HP:3"), ("air-space disease", None)]


def test_knn_labeler_weights_neighbours_by_similarity(tiny_kb):
    pool = {
        "a": ConceptSet.of(["HP:3", "HP:6"]),
        "b": ConceptSet.of(["HP:3"]),
        "c": ConceptSet.of(["HP:5"]),
    }
    index = ReportIndex.build(pool.items(), kb=tiny_kb)
    labels = {"a": {"Effusion": 1, "Cardiomegaly": 1}, "b": {"Effusion": 1, "Cardiomegaly": -1}, "c": {"Effusion": 0}}
    knn = KnnLabeler(index, labels, ["Effusion", "Cardiomegaly"], k=2)
    scores = knn.predict(ConceptSet.of(["HP:3", "HP:6"]))
    # neighbours: a (similarity 1) and b (1 / (1 + 0.5)): Cardiomegaly = (1 * 1 + 2/3 * 0.5) / (1 + 2/3)
    assert scores["Effusion"].value == pytest.approx(1.0)
    assert scores["Cardiomegaly"].value == pytest.approx((1 + 2 / 3 * 0.5) / (5 / 3))
    assert [n.id for n in scores["Cardiomegaly"].evidence] == ["a", "b"]
    with pytest.raises(ConfigError, match="no labels"):
        KnnLabeler(index, {"a": {}}, ["Effusion"])


def test_resolved_finding_votes_absent(label_set_file, tiny_kb):
    label_set = load_label_set(label_set_file(), tiny_kb)
    resolved = Finding("effusion", "HP:3", "present", resolved=True, sentence="The effusion has resolved.", cue="has resolved")
    values = RuleLabeler(label_set).label([resolved])
    assert values["Effusion"].value == 0 and values["Effusion"].evidence == (resolved,)
    assert values["Effusion"].describe() == 'effusion [present, resolved: has resolved] "The effusion has resolved."'
    # a present mention elsewhere still wins
    assert RuleLabeler(label_set).label([resolved, f("effusion", "HP:3")])["Effusion"].value == 1
