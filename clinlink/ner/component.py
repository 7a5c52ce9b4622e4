"""spaCy component ``clinlink_ner``: dictionary (+ fuzzy) mention detection against the KB."""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from clinlink.extensions import register_extensions, section_at
from clinlink.kb.shared import shared_kb
from clinlink.kb.artifact_cache import cache_key, cached, file_digest
from clinlink.linking.coding_lexicon import load_coding_lexicons, resolve_lexicons
from clinlink.ner.dictionary import DEFAULT_STOP_NAMES, ConceptFilter, MentionDictionary, load_extra_names, load_stop_names
from clinlink.ner.variants import DEFAULT_VARIANTS
from clinlink.ner.fuzzy import FuzzyMatcher, english_words, english_words_file
from clinlink.ner.matcher import find_matches
from clinlink.ner.shorthand import DEFAULT_SHORTHAND, Sense, ShorthandLexicon
from clinlink.ner.words import DocTokens, span_words
from clinlink.text.normalize import stem, tokens

log = logging.getLogger(__name__)

DEFAULT_CONFIG = {
    "kb": None,
    "sources": [],
    "groups": ["DISO"],
    "semantic_types": [],
    "within": [],
    "exclude": [],
    "prefer_sources": ["HP", "ICD10CM"],
    "synonym_kinds": ["PREFERRED", "EXACT", "INCLUSION", "RELATED"],
    "stop_names": None,
    "extra_names": None,
    "coding_lexicon": None,
    "fuzzy": True,
    "fuzzy_min_score": 88.0,
    "fuzzy_max_edits": 0,
    "keep_existing": True,
    "shorthand": True,
    "extra_shorthand": None,
    "domains": [],
}


@lru_cache(maxsize=8)
def _matchers(
    kb_spec: str | None, concept_filter: ConceptFilter, prefer: tuple, kinds: tuple, stop_names: str | None,
    extra_names: str | None, coding_lexicon: tuple[str, ...], fuzzy: bool, fuzzy_min_score: float, fuzzy_max_edits: int,
):
    kb = shared_kb(kb_spec)

    def build() -> tuple[MentionDictionary, FuzzyMatcher | None]:
        dictionary = MentionDictionary.from_kb(
            kb, concept_filter, prefer, kinds, load_stop_names(stop_names), extra_names=load_extra_names(extra_names),
            stop_phrases=load_stop_names(stop_names, "stop_phrases"),
            fallback_names=load_coding_lexicons(coding_lexicon).names() if coding_lexicon else None,
        )
        if not fuzzy:
            return dictionary, None
        return dictionary, FuzzyMatcher(dictionary, min_score=fuzzy_min_score, max_edits=fuzzy_max_edits, words=english_words())

    key = cache_key(
        kb, filter=concept_filter, prefer=prefer, kinds=kinds, fuzzy=fuzzy, fuzzy_min_score=fuzzy_min_score, fuzzy_max_edits=fuzzy_max_edits,
        stop_names=file_digest(stop_names or DEFAULT_STOP_NAMES), extra_names=file_digest(extra_names),
        coding_lexicon=[file_digest(path) for path in coding_lexicon], variants=file_digest(DEFAULT_VARIANTS), code=_code_digest(),
        words=file_digest(english_words_file()) if fuzzy else "",
    )
    dictionary, fuzzy_matcher = cached(kb, "ner", key, build)
    return kb, dictionary, fuzzy_matcher


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """The matcher code itself is part of the cache key, so a code change rebuilds."""
    folder = Path(__file__).parent
    parts = [(folder / name).read_bytes() for name in ("dictionary.py", "fuzzy.py", "variants.py", "roots.py")]
    parts.append((folder.parent / "text" / "normalize.py").read_bytes())
    return hashlib.sha256(b"".join(parts)).hexdigest()


class MentionDetector:
    """Finds KB names in each sentence; entities carry ``span._.concept_id`` and a group label."""

    def __init__(
        self, kb: str | None, concept_filter: ConceptFilter, prefer_sources: list[str], synonym_kinds: list[str],
        stop_names: str | None, extra_names: str | None, fuzzy: bool, fuzzy_min_score: float, keep_existing: bool,
        shorthand: ShorthandLexicon | None = None, domains: tuple[str, ...] = (), coding_lexicon: tuple[str, ...] = (),
        fuzzy_max_edits: int = 0,
    ):
        self.kb, self.dictionary, self.fuzzy = _matchers(
            kb, concept_filter, tuple(prefer_sources), tuple(synonym_kinds), stop_names, extra_names, coding_lexicon,
            fuzzy, fuzzy_min_score, fuzzy_max_edits,
        )
        self.keep_existing = keep_existing
        self.concept_filter = concept_filter
        self.shorthand = shorthand
        self.domains = frozenset(domains)
        self._expansions: dict[str, str | None] = {}
        for form, (_, senses) in (shorthand.forms.items() if shorthand is not None else ()):
            unresolved = [s.expansion for s in senses if self.sense_concept(s) is None]
            if unresolved:
                log.debug("shorthand %r: %s names no concept of this pipeline (no mention)", form, ", ".join(unresolved))

    def __call__(self, doc: Doc) -> Doc:
        spans: list[Span] = []
        sentences = doc.sents if doc.has_annotation("SENT_START") else [doc[:]]
        doc_tokens = DocTokens(doc)
        for sentence in sentences:
            words = span_words(doc, sentence.start, sentence.end, doc_tokens)
            for match in find_matches(words, self.dictionary, self.fuzzy):
                concept = self.kb.get(match.concept_ids[0])
                span = Span(doc, words[match.start].start_token, words[match.end - 1].token + 1, label=concept.group or "CONCEPT")
                if _in_header(doc, span):
                    continue  # "HISTORY OF PRESENT ILLNESS:" names a section, not a finding
                span._.concept_id = concept.id
                span._.concept_name = concept.name
                span._.score = match.score
                spans.append(span)
        existing = list(doc.ents) if self.keep_existing else []
        shorthand = self.shorthand_mentions(doc) if self.shorthand is not None else []
        doc.ents = resolve_overlaps(shorthand + existing + spans, abbreviation_mentions(doc, spans))
        return doc

    def shorthand_mentions(self, doc: Doc) -> list[Span]:
        """Short forms read as their expansion's concept (``span._.expansion`` set); they win over a dictionary
        match of the same tokens ("effusion" on a chest film is a pleural effusion)."""
        has_sentences = doc.has_annotation("SENT_START")

        def sentence_of(start: int, end: int) -> str:
            span = doc.char_span(start, end, alignment_mode="expand")
            return span.sent.text if has_sentences and span is not None else doc.text

        found = []
        for hit in self.shorthand.find(doc.text, sentence_of, self.domains):
            span = doc.char_span(hit.start, hit.end) or _expanded_over_punctuation(doc, hit.start, hit.end)
            concept_id = self.sense_concept(hit.sense)
            if span is None or concept_id is None or _in_header(doc, span):
                continue
            concept = self.kb.get(concept_id)
            span = Span(doc, span.start, span.end, label=concept.group or "CONCEPT")
            span._.concept_id, span._.concept_name, span._.score = concept.id, concept.name, 1.0
            span._.expansion = hit.sense.expansion
            found.append(span)
        return found

    def sense_concept(self, sense: Sense) -> str | None:
        """The concept a shorthand sense stands for in this pipeline: its ``concept`` when the pipeline's concept
        filter allows it, else what the dictionary reads its expansion as (None: no mention)."""
        if not sense.concept:
            return self.expansion_concept(sense.expansion)
        if sense.concept not in self._expansions:
            allowed = self.concept_filter.allows(self.kb, sense.concept)
            self._expansions[sense.concept] = self.kb.resolve(sense.concept) if allowed else None
        return self._expansions[sense.concept]

    def expansion_concept(self, expansion: str) -> str | None:
        """The concept the detector's dictionary gives an expansion's words (None: no KB name says it)."""
        if expansion not in self._expansions:
            key = tuple(stem(token) for token in tokens(expansion))
            hit = self.dictionary.lookup(key) if key else None
            self._expansions[expansion] = hit[0][0] if hit else None
        return self._expansions[expansion]


def resolve_overlaps(spans: list[Span], secondary: list[Span] = ()) -> list[Span]:
    """The one place overlapping candidate spans are resolved before ``doc.ents`` is set: among ``spans`` the
    longest wins (then the earliest, spaCy's ``filter_spans``); a ``secondary`` span (an abbreviation's short
    form) is kept only where no kept span has a token of it. No text makes this raise spaCy's E1010."""
    kept = filter_spans(spans)
    taken = {token for span in kept for token in range(span.start, span.end)}
    for span in filter_spans(list(secondary)):
        if taken.isdisjoint(range(span.start, span.end)):
            kept.append(span)
            taken.update(range(span.start, span.end))
    return sorted(kept, key=lambda span: span.start)


def _expanded_over_punctuation(doc: Doc, start: int, end: int) -> Span | None:
    """The tokens around characters ``start``..``end`` when what they add is punctuation ("V." of "N/V.")."""
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None:
        return None
    extra = doc.text[span.start_char : start] + doc.text[end : span.end_char]
    return span if all(not ch.isalnum() for ch in extra) else None


def _in_header(doc: Doc, span: Span) -> bool:
    section = section_at(doc._.sections, span.start_char)
    return section is not None and span.start_char < section[0] + len(section[3])


def abbreviation_mentions(doc: Doc, spans: list[Span]) -> list[Span]:
    """Short forms ("MTC") of long forms matched as mentions, from scispaCy's abbreviation detector."""
    if not Doc.has_extension("abbreviations") or not doc._.abbreviations:
        return []
    by_range = {(span.start, span.end): span for span in spans}
    found = []
    for abbreviation in doc._.abbreviations:
        if isinstance(abbreviation, dict):
            long_range = (abbreviation["long_start"], abbreviation["long_end"])
            short = doc[abbreviation["short_start"] : abbreviation["short_end"]]
        else:
            long_range = (abbreviation._.long_form.start, abbreviation._.long_form.end)
            short = abbreviation
        source = by_range.get(long_range)
        if source is None or (short.start, short.end) in by_range:
            continue
        span = Span(doc, short.start, short.end, label=source.label_)
        span._.concept_id, span._.concept_name, span._.score = source._.concept_id, source._.concept_name, source._.score
        found.append(span)
    return found


@Language.factory("clinlink_ner", default_config=DEFAULT_CONFIG)
def make_ner(
    nlp: Language, name: str, kb: str | None, sources: list[str], groups: list[str], semantic_types: list[str],
    within: list[str], exclude: list[str], prefer_sources: list[str], synonym_kinds: list[str],
    stop_names: str | None, extra_names: str | None, coding_lexicon: str | list[str] | None, fuzzy: bool, fuzzy_min_score: float, fuzzy_max_edits: int,
    keep_existing: bool, shorthand: bool, extra_shorthand: str | None, domains: list[str],
) -> MentionDetector:
    """``kb``: compiled KB dir or ontology config name (None = default). ``sources``, ``groups``,
    ``semantic_types``, ``within`` (subtree roots) and ``exclude`` choose the concepts matched.
    ``extra_names``: a YAML mapping concept id -> phrases matched as names of it. ``coding_lexicon``: a packaged
    coding lexicon's name or a TSV path, or a list of them (:mod:`clinlink.linking.coding_lexicon`): its phrases are matched as
    names of their ICD-10-CM codes where no other name matches. ``fuzzy_max_edits``: a word no name holds is
    also read as a single-word name one to this many letters away (0: off; ``clinical``: 1, for notes' typos:
    "nausia", "dysuira"). ``shorthand``: read clinical
    short forms (``clinlink/ner/shorthand.yaml``); ``extra_shorthand``: a user's lexicon of the same shape, read
    after it; ``domains``: the senses of these domains apply (the radiology pipeline: ``[chest]``)."""
    register_extensions()
    concept_filter = ConceptFilter(tuple(sources), tuple(groups), tuple(semantic_types), tuple(within), tuple(exclude))
    lexicon = ShorthandLexicon.load((DEFAULT_SHORTHAND, _resolve_path(extra_shorthand))) if shorthand else None
    return MentionDetector(
        kb, concept_filter, prefer_sources, synonym_kinds, _resolve_path(stop_names), _resolve_path(extra_names),
        fuzzy, fuzzy_min_score, keep_existing, lexicon, tuple(domains), resolve_lexicons(coding_lexicon), fuzzy_max_edits,
    )


def _resolve_path(path: str | None) -> str | None:
    """Paths in pipeline configs may be relative to the packaged pipelines folder."""
    if not path:
        return None
    from clinlink.resources import PIPELINE, packaged_dir

    candidate = Path(path)
    packaged = packaged_dir(PIPELINE) / candidate
    if not candidate.is_absolute() and not candidate.exists() and packaged.exists():
        return str(packaged)
    return str(candidate)
