"""spaCy component ``clinlink_segmenter``: sections and sentence boundaries."""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc

from clinlink.extensions import register_extensions
from clinlink.text.sections import SectionFinder, load_headers
from clinlink.text.sentences import sentence_starts


class Segmenter:
    """Sets ``doc._.sections`` and sentence starts (``token.is_sent_start``)."""

    def __init__(self, headers: str | None = None, unknown_headers: bool = True):
        self.finder = SectionFinder(load_headers(headers), unknown_headers)

    def __call__(self, doc: Doc) -> Doc:
        text = doc.text
        sections = self.finder.find(text)
        doc._.sections = [[s.start, s.end, s.name, s.header] for s in sections]
        starts = iter(sentence_starts(text, (s.start for s in sections)))
        next_start = next(starts, None)
        for token in doc:
            token_end = token.idx + len(token.text)
            is_start = token.i == 0
            while next_start is not None and next_start < token_end:
                is_start = True
                next_start = next(starts, None)
            token.is_sent_start = is_start
        return doc


@Language.factory(
    "clinlink_segmenter",
    default_config={"headers": None, "unknown_headers": True},
)
def make_segmenter(nlp: Language, name: str, headers: str | None, unknown_headers: bool) -> Segmenter:
    """``headers``: a YAML file of section headers (default: the packaged sections.yaml)."""
    register_extensions()
    return Segmenter(headers, unknown_headers)
