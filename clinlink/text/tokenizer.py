"""Tokenizer settings of a pipeline config: extra infixes for clinical list punctuation."""

from __future__ import annotations

import re
from collections.abc import Iterable

from spacy.language import Language
from spacy.util import compile_infix_regex

from clinlink.errors import ConfigError


def add_infixes(nlp: Language, patterns: Iterable[str], origin: str = "pipeline config") -> None:
    """Split tokens at the regexes in ``patterns`` too, after spaCy's own infixes ("hypotonia;seizures").
    Saved with the pipeline by ``nlp.to_disk``, as spaCy serializes the tokenizer's rules."""
    extra = [str(pattern) for pattern in patterns]
    for pattern in extra:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ConfigError(f"{origin}: tokenizer infix {pattern!r} is not a valid regex: {error}") from None
    nlp.tokenizer.infix_finditer = compile_infix_regex([*nlp.Defaults.infixes, *extra]).finditer
