"""spaCy components of the similarity stage.

``clinlink_concept_set`` sets ``doc._.concept_set`` from the linked, asserted entities;
``clinlink_label_phrases`` adds the extra phrases of label sets as entities.
"""

from __future__ import annotations

from collections.abc import Iterable

from spacy.language import Language
from spacy.tokens import Doc, Span

from clinlink.errors import ConfigError
from clinlink.extensions import register_extensions
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


class LabelPhraseComponent:
    """Adds the extra phrases of label sets ("airspace disease", "volume loss") as entities.

    Runs before ``clinlink_context`` so the phrases get assertions like any mention.
    A phrase becomes an entity where no entity is, or, when it names a concept,
    where it covers entities entirely (the longer wording wins); it is linked to
    its label's first concept.
    """

    def __init__(self, label_sets: Iterable[str]):
        from clinlink.similarity.labels import load_label_set
        from clinlink.similarity.phrases import PhraseFinder

        register_extensions()
        self.label_sets = tuple(label_sets)
        phrases: dict[str, str | None] = {}
        for name in self.label_sets:
            for phrase, concept_id in load_label_set(name).phrases().items():
                phrases.setdefault(phrase, concept_id)
        self.finder = PhraseFinder(phrases)

    def __call__(self, doc: Doc) -> Doc:
        matches = self.finder.find([token.text for token in doc])
        if not matches:
            return doc
        ents = list(doc.ents)
        taken = [(e.start, e.end) for e in ents]
        for start, end, concept_id in matches:
            inside = [i for i, (s, e) in enumerate(taken) if s < end and start < e]
            if inside and (
                concept_id is None or any(taken[i][0] < start or taken[i][1] > end or taken[i] == (start, end) for i in inside)
            ):
                continue  # the entities stay: the phrase only partly covers them, or it names no concept
            for i in sorted(inside, reverse=True):
                del ents[i], taken[i]
            span = Span(doc, start, end, label="FINDING")
            span._.concept_id = concept_id
            ents.append(span)
            taken.append((start, end))
        doc.ents = sorted(ents, key=lambda e: e.start)
        return doc


@Language.factory("clinlink_label_phrases", default_config={"label_sets": ["chestxray14"]})
def make_label_phrases(nlp: Language, name: str, label_sets: list[str]) -> LabelPhraseComponent:
    return LabelPhraseComponent(label_sets)


def add_label_phrases(nlp: Language, label_sets: Iterable[str]) -> Language:
    """Put ``clinlink_label_phrases`` into a pipeline before its assertion component, adding
    ``clinlink_context`` after it when the pipeline has none (labels need assertions)."""
    factories = {name: nlp.get_pipe_meta(name).factory for name in nlp.pipe_names}
    context = next((name for name, factory in factories.items() if factory == "clinlink_context"), None)
    config = {"label_sets": list(label_sets)}
    if "label_phrases" in nlp.pipe_names:
        nlp.remove_pipe("label_phrases")
    if context is not None:
        nlp.add_pipe("clinlink_label_phrases", name="label_phrases", before=context, config=config)
    else:
        import clinlink.assertion.component  # noqa: F401  (registers clinlink_context)

        nlp.add_pipe("clinlink_label_phrases", name="label_phrases", config=config)
        nlp.add_pipe("clinlink_context", name="context")
    return nlp
