"""spaCy component ``clinlink_segmenter``: sections and sentence boundaries."""

from __future__ import annotations

import numpy
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
        flags = numpy.full(len(doc), -1, dtype="int64")
        if len(doc):
            offsets, lengths = doc.to_array(["IDX", "LENGTH"]).T
            token_ends = offsets + lengths
            starts = numpy.asarray(sentence_starts(text, (s.start for s in sections)), dtype=offsets.dtype)
            # each sentence start marks the token that contains it (the first token ending after it)
            flags[numpy.searchsorted(token_ends, starts, side="right")[starts < token_ends[-1]]] = 1
            flags[0] = 1
            doc.from_array(["SENT_START"], flags.astype("uint64").reshape(-1, 1))  # -1 wraps, as spaCy expects
        return doc


@Language.factory(
    "clinlink_segmenter",
    default_config={"headers": None, "unknown_headers": True},
)
def make_segmenter(nlp: Language, name: str, headers: str | None, unknown_headers: bool) -> Segmenter:
    """``headers``: a YAML file of section headers (default: the packaged sections.yaml)."""
    register_extensions()
    return Segmenter(headers, unknown_headers)
