"""spaCy component ``clinlink_concept_set``: ``doc._.concept_set`` from the linked entities."""

from __future__ import annotations

from collections.abc import Iterable

from spacy.language import Language
from spacy.tokens import Doc

from clinlink.extensions import register_extensions
from clinlink.errors import ConfigError
from clinlink.similarity.concept_set import HISTORICAL_POLICIES, ConceptSet


class ConceptSetComponent:
    """Sets ``doc._.concept_set`` to :meth:`ConceptSet.from_doc` in dict form."""

    def __init__(self, historical: str, exclude_sections: Iterable[str], use_scores: bool):
        register_extensions()
        if historical not in HISTORICAL_POLICIES:
            raise ConfigError(f"clinlink_concept_set: historical must be one of {HISTORICAL_POLICIES}, not {historical!r}")
        self.historical = historical
        self.exclude_sections = tuple(exclude_sections)
        self.use_scores = use_scores

    def __call__(self, doc: Doc) -> Doc:
        concept_set = ConceptSet.from_doc(
            doc, historical=self.historical, exclude_sections=self.exclude_sections, use_scores=self.use_scores
        )
        doc._.concept_set = concept_set.to_dict()
        return doc


@Language.factory(
    "clinlink_concept_set",
    default_config={"historical": "present", "exclude_sections": [], "use_scores": False},
)
def make_concept_set(
    nlp: Language, name: str, historical: str, exclude_sections: list[str], use_scores: bool
) -> ConceptSetComponent:
    return ConceptSetComponent(historical, exclude_sections, use_scores)
