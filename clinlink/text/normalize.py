"""Name normalization shared by the knowledge base, the matcher and the linker.

``normalize`` folds case, accents, punctuation and simple English inflection so
"Pleural Effusions" and "pleural effusion" meet; ``order_free_key`` also
forgets word order ("effusion, pleural").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset({"of", "the", "a", "an", "nos", "in", "with", "and", "or", "to", "on", "by", "for", "at"})
_INVARIANT = frozenset(
    {
        "is", "has", "was", "as", "its", "this", "us", "bus", "gas", "pus", "plus", "axis", "lens",
        "mucus", "virus", "fetus", "uterus", "bronchus", "thymus", "sinus", "hiatus", "status",
        "ductus", "fundus", "corpus", "ileus", "pelvis", "humerus", "uveitis", "iris", "series",
        "species", "diabetes", "herpes", "rabies", "scabies", "caries", "mellitus", "tetanus",
        "hypospadias", "epispadias", "pes", "genus", "nexus", "calculus", "thorax", "larynx",
        "pharynx", "cervix", "apex", "index", "ms", "ss", "gross", "loss", "less", "process",
        "abscess", "stenosis", "sclerosis", "ptosis", "cyanosis", "fibrosis", "necrosis", "psoriasis",
    }
)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


# Adjective -> noun folds that clinical text uses interchangeably ("hypotonic" ~ "hypotonia").
_DERIVATIONS = (
    ("plastic", "plasia"), ("otic", "osis"), ("emic", "emia"), ("tonic", "tonia"), ("phalic", "phaly"),
    ("trophic", "trophy"), ("lytic", "lysis"), ("oxic", "oxia"), ("taxic", "taxia"), ("ptic", "psy"),
)


# British spellings folded onto American ones ("oedema" -> "edema", "tumour" -> "tumor");
# "ae" is folded anywhere but at the end (plural "vertebrae").
_BRITISH = (
    ("oedem", "edem"), ("oesoph", "esoph"), ("oestr", "estr"), ("foet", "fet"), ("coeli", "celi"),
    ("homoeo", "homeo"), ("rrhoea", "rrhea"), ("pnoea", "pnea"), ("pnoeic", "pneic"),
    ("tumour", "tumor"), ("colour", "color"), ("behaviour", "behavior"), ("humour", "humor"),
    ("odour", "odor"), ("labour", "labor"), ("favour", "favor"), ("vapour", "vapor"),
    ("fibre", "fiber"), ("centre", "center"), ("litre", "liter"), ("metre", "meter"), ("calibre", "caliber"),
)
# Latin plurals that the "-s" rule misses: "nevi" -> "nevus", "lipomata" -> "lipoma",
# "exostoses" -> "exostosis", "epiphyses" -> "epiphysis".
_NOT_LATIN_PLURAL = frozenset({"mini", "anti", "multi", "semi", "maxi", "taxi", "kiwi", "khaki", "alibi", "hindi"})


def _british(token: str) -> str:
    if "ae" in token[:-2]:
        token = token[:-2].replace("ae", "e") + token[-2:]
    if "oe" in token or "our" in token or "re" in token:
        for british, american in _BRITISH:
            if british in token:
                token = token.replace(british, american)
    return token


def _latin_plural(token: str) -> str | None:
    if token.endswith("omata"):
        return token[:-2]
    if token.endswith(("oses", "yses")) and len(token) >= 8 and not token.endswith(("doses", "poses", "closes", "ucoses", "ctoses")):
        return token[:-2] + "is"
    if token.endswith("i") and len(token) >= 4 and token[-2] not in "aiou" and token not in _NOT_LATIN_PLURAL:
        return token[:-1] + "us"
    return None


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """Strip a plural or simple inflection from one lower-case token; fold British
    spellings and Latin plurals; fold clinical adjectives onto their noun
    ("sclerotic" -> "sclerosis")."""
    if len(token) <= 3 or token in _INVARIANT or token.isdigit():
        return token
    token = _british(token)
    latin = _latin_plural(token)
    if latin is not None:
        return latin
    if len(token) >= 6:
        for suffix, replacement in _DERIVATIONS:
            if token.endswith(suffix):
                return token[: -len(suffix)] + replacement
    if token.endswith(("sis", "tis", "xis", "ss", "us", "ous")):
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith(("ches", "shes", "sses", "xes", "zes")):
        return token[:-2]
    if token.endswith("ae") and len(token) > 4:
        return token[:-1]
    if token.endswith("s") and not token.endswith("is"):
        return token[:-1]
    return token


def tokens(text: str) -> list[str]:
    """Lower-case alphanumeric tokens of ``text`` (accents folded)."""
    return _TOKEN.findall(_fold(text))


@lru_cache(maxsize=500_000)
def normalize(text: str) -> str:
    """Case-, accent-, punctuation- and inflection-folded form of a name."""
    return " ".join(stem(token) for token in tokens(text))


@lru_cache(maxsize=500_000)
def order_free_key(text: str) -> str:
    """``normalize`` without stop words and with sorted tokens (word-order free)."""
    return order_free_key_of_stems(stem(token) for token in tokens(text) if token not in _STOP)


def order_free_key_of_stems(stems: Iterable[str]) -> str:
    """:func:`order_free_key` of words that are already tokens folded by :func:`stem` (no second pass)."""
    return " ".join(sorted(word for word in stems if word not in _STOP))
