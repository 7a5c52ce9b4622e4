"""spaCy component ``clinlink_linker``: links every ``doc.ents`` span to a KB concept.

Sets ``span._.concept_id``, ``concept_name``, ``score``, ``candidates``
(``[[id, name, score], ...]``) and ``codes`` (the best code of each target vocabulary, linked within that
vocabulary alone, see :meth:`Linker.annotate`), and ``doc._.codes`` (see :func:`document_codes`); NIL spans
get ``concept_id`` None. The choice of the concept is :func:`clinlink.linking.choice.choose`.
Short forms found by scispaCy's ``abbreviation_detector`` are linked through
their long form. A concept id already set by the mention detector is kept
unless the linker's top candidate is an exact name match of another concept.
A detector's dictionary match (score 1: a KB name, a variant of one that the
linker does not index, "ophthalmologic anomalies", or a root, qualifier or
coordination match) yields to nothing else; a fuzzy one (score below 1) also
yields to a candidate scoring ``override_margin`` above it (a kept concept
outside the top ``k`` counts at the k-th candidate's score).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from clinlink.extensions import register_extensions
from clinlink.kb.shared import shared_kb
from clinlink.linking.candidates import NIL_THRESHOLD
from clinlink.linking.choice import CODE_THRESHOLD, vocabulary_key
from clinlink.linking.coding_lexicon import CodingLexicon, load_coding_lexicons, resolve_lexicons

if TYPE_CHECKING:  # the linker pulls in faiss and torch: imported on first use only
    from clinlink.kb import KnowledgeBase
    from clinlink.linking.linker import Linker
    from clinlink.linking.rerank import CrossEncoderReranker

_LINKERS: dict[tuple[str, str, bool, str], Linker] = {}


def load_linker(kb: str | None = None, encoder: str | None = None, sparse: bool = True, reranker: str | None = None) -> Linker:
    """One linker per process for a (KB, encoder, sparse, reranker) key; ``kb`` is a compiled KB dir or a
    config name; ``reranker``: a cross-encoder directory, "default" (the packaged cross-encoder) or None."""
    key = (str(kb or "default"), str(encoder or ""), sparse, str(reranker or ""))
    if key not in _LINKERS:
        from clinlink.linking.linker import Linker

        knowledge_base = shared_kb(kb)
        _LINKERS[key] = Linker.from_kb(
            knowledge_base, encoder=encoder, sparse=sparse, reranker=_load_reranker(knowledge_base, reranker)
        )
    return _LINKERS[key]


def _load_reranker(kb: KnowledgeBase, reranker: str | None) -> CrossEncoderReranker | None:
    if not reranker:
        return None
    from clinlink.linking.rerank import CrossEncoderReranker

    return CrossEncoderReranker(kb, None if reranker == "default" else reranker)


@Language.factory(
    "clinlink_linker",
    default_config={
        "kb": None,
        "encoder": None,
        "sparse": True,
        "k": 5,
        "sources": None,
        "within": None,
        "groups": None,
        "nil_threshold": NIL_THRESHOLD,
        "use_abbreviations": True,
        "override_margin": 0.1,
        "batch_size": 2048,
        "exact_shortcut": "sparse",
        "threads": 1,
        "reranker": None,
        "vocabularies": None,
        "code_threshold": CODE_THRESHOLD,
        "coding_lexicon": None,
    },
)
def make_linker(
    nlp: Language,
    name: str,
    kb: str | None,
    encoder: str | None,
    sparse: bool,
    k: int,
    sources: list[str] | None,
    within: str | list[str] | None,
    groups: list[str] | None,
    nil_threshold: float,
    use_abbreviations: bool,
    override_margin: float,
    batch_size: int,
    exact_shortcut: str,
    threads: int | None,
    reranker: str | None,
    vocabularies: list[str] | None,
    code_threshold: float,
    coding_lexicon: str | list[str] | None,
) -> LinkerComponent:
    """Settings: ``kb`` (compiled KB dir or ontology config name; None: the default KB),
    ``encoder`` (model dir; None: the default), ``k`` candidates kept, filters
    ``sources`` / ``within`` / ``groups``, ``nil_threshold``, ``use_abbreviations``,
    ``override_margin`` (see the module doc), ``batch_size`` (spans linked per call in ``pipe``) and
    ``exact_shortcut`` (see :meth:`Linker.from_kb`: "sparse" by default, as a dictionary match that is a
    KB name keeps that concept and needs no dense search; "vector" gives it dense alternatives too),
    ``threads``: threads of torch, OpenMP and BLAS (process-wide, see :func:`limit_threads`; None: their defaults),
    ``reranker``: a cross-encoder directory, or "default" for the packaged cross-encoder, that reranks the
    candidates of mentions whose retrieval margin is not safe, with the sentence as context (None: no reranking),
    ``vocabularies``: the vocabularies each mention is also linked in, each on its own, for ``span._.codes``
    (e.g. ``[ICD10CM, HPO, SNOMEDCT, UMLS]``; those the KB lacks are skipped; None: the ``sources``),
    ``code_threshold``: the score a code linked within one vocabulary needs unless it is an exact name,
    ``coding_lexicon``: a packaged coding lexicon's name or a TSV path, or a list of them (the first holding a phrase
    decides it), whose phrases get their ICD-10-CM code (or none) without retrieval (:mod:`clinlink.linking.coding_lexicon`; None: no lexicon)."""
    register_extensions()
    linker = load_linker(kb, encoder, sparse, reranker)
    if threads:
        limit_threads(threads)
    return LinkerComponent(
        linker, k, sources, within, groups, nil_threshold, use_abbreviations, override_margin, batch_size, exact_shortcut,
        vocabularies, code_threshold, load_coding_lexicons(resolve_lexicons(coding_lexicon)),
    )


def limit_threads(threads: int) -> None:
    """Caps the thread pools of torch, OpenMP (FAISS) and BLAS (numpy, FAISS) in this process.

    One thread suits the few mentions a batch of notes has to encode and one process per core: with
    their default of one thread per core, FAISS and BLAS spun both cores of a 2-core machine for no
    gain (twice the CPU time at the same speed), and two torch threads on a busy 2-core machine ran 6x slower.
    """
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)  # the libraries loaded by now (numpy, FAISS); stays in effect


class LinkerComponent:
    """Adapts :class:`Linker` to docs: gathers the entity texts of many docs into one call."""

    def __init__(
        self,
        linker: Linker,
        k: int = 5,
        sources: list[str] | None = None,
        within: str | list[str] | None = None,
        groups: list[str] | None = None,
        nil_threshold: float = NIL_THRESHOLD,
        use_abbreviations: bool = True,
        override_margin: float = 0.1,
        batch_size: int = 2048,
        exact_shortcut: str = "sparse",
        vocabularies: list[str] | None = None,
        code_threshold: float = CODE_THRESHOLD,
        coding_lexicon: CodingLexicon | None = None,
    ):
        self.linker = linker
        self.coding_lexicon = coding_lexicon
        self.k = k
        self.filters = {"sources": sources, "within": within, "groups": groups}
        self.nil_threshold = nil_threshold
        self.use_abbreviations = use_abbreviations
        self.override_margin = override_margin
        self.batch_size = batch_size
        self.exact_shortcut = exact_shortcut
        self.code_threshold = code_threshold
        self.vocabularies = list(dict.fromkeys(vocabulary_key(v) for v in (vocabularies or sources or ("ICD10CM", "HPO"))))

    def __call__(self, doc: Doc) -> Doc:
        self._link_docs([doc])
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int | None = None) -> Iterator[Doc]:
        """Links the docs' entities in batches of at least the component's ``batch_size`` spans.

        ``nlp.pipe`` passes its own ``batch_size``, a count of docs: that is not used, since a batch of 16
        short notes may hold a handful of spans, and a search of the dense index costs much the same for
        one query as for dozens (see :mod:`clinlink.linking.dense`).
        """
        batch: list[Doc] = []
        spans = 0
        for doc in docs:
            batch.append(doc)
            spans += len(doc.ents)
            if spans >= self.batch_size:
                yield from self._link_docs(batch)
                batch, spans = [], 0
        if batch:
            yield from self._link_docs(batch)

    def _link_docs(self, docs: list[Doc]) -> list[Doc]:
        spans = [span for doc in docs for span in doc.ents]
        sentences = [span.sent if span.doc.has_annotation("SENT_START") else None for span in spans]
        linked = self.linker.annotate(
            [self._query(span) for span in spans],
            [None if sent is None else sent.text for sent in sentences],
            k=self.k,
            vocabularies=self.vocabularies,
            nil_threshold=self.nil_threshold,
            exact_shortcut=self.exact_shortcut,
            presets=[span._.concept_id for span in spans],
            detector_scores=[span._.score for span in spans],
            override_margin=self.override_margin,
            code_threshold=self.code_threshold,
            coding_lexicon=self.coding_lexicon,
            positions=[
                None if sent is None else (span.start_char - sent.start_char, span.end_char - sent.start_char) for span, sent in zip(spans, sentences)
            ],
            **self.filters,
        )
        for span, link in zip(spans, linked):
            span._.candidates = [candidate.as_list() for candidate in link.candidates]
            chosen = link.concept
            span._.concept_id = None if chosen is None else chosen.concept_id
            span._.concept_name = None if chosen is None else chosen.name
            span._.score = None if chosen is None else round(float(chosen.score), 4)
            span._.codes = link.codes or None
        for doc in docs:
            doc._.codes = document_codes(doc)
        return docs

    def _query(self, span: Span) -> str:
        """The text to link: the expansion of a clinical short form, or the long form of an abbreviation defined in the text."""
        if span._.expansion:
            return span._.expansion
        if not self.use_abbreviations or not Doc.has_extension("abbreviations"):
            return span.text
        for short in span.doc._.abbreviations or ():
            start, end, long_form = _abbreviation(short)
            if (start, end) == (span.start, span.end) or (short_text(short) == span.text and long_form):
                return long_form or span.text
        return span.text


#: Assertions whose mentions a document's codes leave out.
NOT_CODED = ("absent", "family", "hypothetical")


def document_codes(doc: Doc) -> dict[str, list[dict]] | None:
    """``doc._.codes``: per vocabulary, the linked codes of the document's mentions that are not absent, family
    or hypothetical, deduplicated and ranked (best mention score, then mention count, then first position), each
    ``{"code", "name", "score", "mentions": [[start_char, end_char, text], ...]}``."""
    found: dict[str, dict[str, dict]] = {}
    for span in doc.ents:
        if span._.assertion in NOT_CODED or not span._.codes:
            continue
        for vocabulary, entries in span._.codes.items():
            for code, name, score in entries:
                if score is None:
                    break  # cross-references follow the codes linked in this vocabulary
                entry = found.setdefault(vocabulary, {}).setdefault(code, {"code": code, "name": name, "score": score, "mentions": []})
                entry["score"] = max(entry["score"], score)
                entry["mentions"].append([span.start_char, span.end_char, span.text])
    if not found:
        return None
    return {
        vocabulary: sorted(entries.values(), key=lambda e: (-e["score"], -len(e["mentions"]), e["mentions"][0][0]))
        for vocabulary, entries in found.items()
    }


def _abbreviation(short: Any) -> tuple[int, int, str | None]:
    """(token start, token end, long form text) of a scispaCy abbreviation (Span or serializable dict)."""
    if isinstance(short, dict):
        return short["short_start"], short["short_end"], short.get("long_text")
    long_form = short._.long_form
    return short.start, short.end, long_form if isinstance(long_form, str) or long_form is None else long_form.text


def short_text(short: Any) -> str:
    return short["short_text"] if isinstance(short, dict) else short.text
