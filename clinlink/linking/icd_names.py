"""ICD-10-CM titles as clinicians say them: "Fever NOS", "Chest pain, unspecified", "Pleural effusion, not elsewhere
classified" and "Essential (primary) hypertension" are what a note calls "fever", "chest pain", "pleural effusion"
and "essential hypertension".

Each title, inclusion term and category "includes" note of ICD-10-CM is cut to its core (no NOS, no trailing
", unspecified ..." / ", not elsewhere classified" / ", site not specified", no parentheses); a mention whose
normalized text is such a core gets that code, the code whose title said "unspecified"/NOS first, then the
shortest code. Built once per KB and cached beside it.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

from clinlink.kb import KnowledgeBase
from clinlink.kb.artifact_cache import cache_key, cached
from clinlink.linking.names import normalizer_digest
from clinlink.text.normalize import normalize

_PARENTHESES = re.compile(r"\s*[\(\[][^)\]]*[\)\]]")
_UNSPECIFIED_TAIL = re.compile(
    r",\s*(?:unspecified|site not specified|not specified|unspecified site|unspecified organism|unspecified type|"
    r"unspecified as to .*|acquired)$|\s+NOS$",
    re.IGNORECASE,
)
_ABNORMAL_HEAD = re.compile(r"^abnormal\s+(?!results?\b|findings?\b)", re.IGNORECASE)
_NEC_TAIL = re.compile(r",\s*not elsewhere classified$", re.IGNORECASE)


_UNSPECIFIED_HEAD = re.compile(r"^unspecified\s+", re.IGNORECASE)
_KIDNEY = re.compile(r"\bkidney(?= (?:failure|disease))")


def core_name(name: str) -> tuple[str, int]:
    """(normalized core of an ICD-10-CM name, how it marked a default: 0 NOS / unspecified, 1 not elsewhere
    classified, 2 no mark)."""
    text, mark = _cut(name)
    return normalize(_PARENTHESES.sub("", text).strip(" ,")), mark


def core_names(name: str) -> tuple[list[str], int]:
    """:func:`core_name` plus the core with each parenthesized modifier said before it ("hypertension (arterial)
    (essential)" is also "arterial hypertension" and "essential hypertension")."""
    text, mark = _cut(name)
    bare = _PARENTHESES.sub("", text).strip(" ,")
    keys = [normalize(bare)]
    for modifier in re.findall(r"\(([^()]*)\)", text):
        if modifier and "," not in modifier and len(modifier.split()) <= 2:
            keys.append(normalize(f"{modifier} {bare}"))
    if _ABNORMAL_HEAD.match(bare):
        keys.append(normalize(_ABNORMAL_HEAD.sub("", bare)))  # "Abnormal weight loss" is what "weight loss" means
    # ICD-10-CM renamed "renal failure" "kidney failure" (2023); notes still write "renal"
    keys += [_KIDNEY.sub("renal", key) for key in keys if _KIDNEY.search(key)]
    return [key for key in dict.fromkeys(keys) if key], mark


def _cut(name: str) -> tuple[str, int]:
    text = name.strip().rstrip(".,;:")
    mark = 2
    for strength, pattern in enumerate((_UNSPECIFIED_TAIL, _NEC_TAIL)):
        cut = pattern.sub("", text)
        if cut != text:
            text, mark = cut, min(mark, strength)
    cut = _UNSPECIFIED_HEAD.sub("", text)
    if cut != text:
        text, mark = cut, 0
    return text, mark


def _build(kb: KnowledgeBase) -> dict[str, str]:
    ranked: dict[str, tuple] = {}
    for concept in kb.filter(sources=["ICD10CM"]):
        if not concept.indexed:
            continue
        names = [concept.name, *(s.name for s in concept.synonyms), *concept.metadata.get("includes", [])]
        for name in names:
            if name.endswith(":"):
                continue  # a lead-in to a list ("hematuria included with underlying conditions, such as:")
            keys, mark = core_names(name)
            for position, key in enumerate(keys):
                rank = (position > 0, mark, len(concept.id), concept.id)
                if key not in ranked or rank < ranked[key]:
                    ranked[key] = rank
    return {key: rank[-1] for key, rank in ranked.items()}


@lru_cache(maxsize=4)
def icd_core_names(kb: KnowledgeBase) -> dict[str, str]:
    """Normalized core name -> ICD-10-CM concept id (see the module doc)."""
    key = cache_key(kb, code=hashlib.sha256(Path(__file__).read_bytes()).hexdigest(), normalizer=normalizer_digest())
    return cached(kb, "icd_names", key, lambda: _build(kb))
