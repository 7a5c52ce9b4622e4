"""spaCy component ``clinlink_context``: ConText assertion of every entity in ``doc.ents``.

Sets ``span._.assertion``, ``span._.historical``, ``span._.resolved`` and ``span._.assertion_cues``
(``[[start_char, end_char, cue, category], ...]``). Works on any entities,
including gold ones set by hand; uses the doc's sentence boundaries when it
has them, else clinlink's sentence splitter; uses ``span._.section`` (from
``doc._.sections``) for the lexicon's section defaults.
"""

from __future__ import annotations

from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import ensure_path

from clinlink.assertion.context import ContextMatcher
from clinlink.assertion.lexicon import DEFAULT_LEXICON, load_lexicon, parse_lexicon
from clinlink.extensions import register_extensions, section_at

_LEXICON_FILE = "lexicon.yaml"


class ContextAssertion:
    """Adapts :class:`ContextMatcher` to a spaCy Doc."""

    def __init__(self, lexicon: str | None = None, section_defaults: bool = True):
        self.lexicon_path = lexicon
        self.section_defaults = section_defaults
        self._matcher: ContextMatcher | None = None

    @property
    def matcher(self) -> ContextMatcher:
        """Compiled on first use, so a pipeline saved with its lexicon loads without the original file."""
        if self._matcher is None:
            self._matcher = ContextMatcher(load_lexicon(self.lexicon_path))
        return self._matcher

    def __call__(self, doc: Doc) -> Doc:
        ents = doc.ents
        if not ents:
            return doc
        text = doc.text  # built from the tokens on every access: read once
        sentences = _sentence_spans(doc, len(text))
        sections = None
        if self.section_defaults and doc._.sections:
            sections = [_section_header(doc, text, ent.start_char) for ent in ents]
        assertions = self.matcher.assert_targets(text, [(e.start_char, e.end_char) for e in ents], sentences, sections)
        for ent, assertion in zip(ents, assertions):
            ent._.assertion = assertion.status
            ent._.historical = assertion.historical
            ent._.resolved = assertion.resolved
            ent._.assertion_cues = [cue.as_list() for cue in assertion.cues]
        return doc

    def to_disk(self, path: str | Path, *, exclude: tuple = ()) -> None:
        """Writes the lexicon in use beside the pipeline, so a custom lexicon travels with it."""
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        source = Path(self.matcher.lexicon.source or DEFAULT_LEXICON)
        (path / _LEXICON_FILE).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")

    def from_disk(self, path: str | Path, *, exclude: tuple = ()) -> ContextAssertion:
        """Reads the lexicon saved by :meth:`to_disk`."""
        lexicon_file = ensure_path(path) / _LEXICON_FILE
        if lexicon_file.exists():
            self._matcher = ContextMatcher(parse_lexicon(lexicon_file))
        return self


def _sentence_spans(doc: Doc, length: int) -> list[tuple[int, int]] | None:
    """Character spans of the doc's sentences, or None when it has no boundaries (read as arrays: fast)."""
    flags = doc.to_array("SENT_START")
    if len(flags) < 2 or not flags[1:].any():
        return None
    offsets = doc.to_array("IDX")
    starts = offsets[flags == 1].tolist()
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return list(zip(starts, starts[1:] + [length]))


def _section_header(doc: Doc, text: str, start_char: int) -> tuple[int, int, str] | None:
    """(header start, header end, name) of the section holding ``start_char``, or None. A header with text after
    it on its own line ("Family history: an uncle with ALS.") heads that line only: in a case report written as
    prose no other header ends it, and the paragraphs after it are not family history."""
    section = section_at(doc._.sections, start_char)
    if section is None:
        return None
    section_start, section_end, name, *rest = section
    header = rest[0] if rest else ""
    at = text.find(header, section_start, section_end) if header else -1
    if at < 0:
        return (section_start, section_start, name)
    line_end = text.find("\n", at + len(header), section_end)
    if line_end >= 0 and start_char > line_end and text[at + len(header) : line_end].strip(" \t:"):
        return None
    return (at, at + len(header), name)


@Language.factory(
    "clinlink_context",
    default_config={"lexicon": None, "section_defaults": True},
)
def make_context(nlp: Language, name: str, lexicon: str | None, section_defaults: bool) -> ContextAssertion:
    """``lexicon``: a YAML cue lexicon (default: the packaged lexicon.yaml);
    ``section_defaults``: apply the lexicon's per-section defaults (family history -> family, ...)."""
    register_extensions()
    return ContextAssertion(lexicon, section_defaults)
