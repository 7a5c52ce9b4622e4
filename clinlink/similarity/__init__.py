"""Concept-set similarity: what reports assert, how alike two reports are, retrieval and labels."""

from clinlink.similarity.concept_set import ConceptSet
from clinlink.similarity.index import Hit, ReportIndex
from clinlink.similarity.labels import KnnLabeler, Label, LabelSet, LabelValue, RuleLabeler, load_label_set
from clinlink.similarity.matcher import ConceptMatcher
from clinlink.similarity.params import PRESETS, TverskyParams
from clinlink.similarity.tversky import Contribution, Explanation, explain, tversky

__all__ = [
    "ConceptSet",
    "ConceptMatcher",
    "TverskyParams",
    "PRESETS",
    "Contribution",
    "Explanation",
    "explain",
    "tversky",
    "ReportIndex",
    "Hit",
    "Label",
    "LabelSet",
    "LabelValue",
    "RuleLabeler",
    "KnnLabeler",
    "load_label_set",
]
