"""Where a cancer is: the ICD-10-CM code of a malignant neoplasm needs its site, which notes write beside the
head word ("gastric adenocarcinoma", "carcinoma of the left kidney", "liver metastases").

:func:`neoplasm_query` turns a mention with a malignant head (carcinoma, cancer, sarcoma, malignancy, seminoma)
or a metastatic one, and a site word in the mention or right after it ("of / in the ..."), into the title ICD-10-CM
gives that neoplasm: "Malignant neoplasm of stomach", "Secondary malignant neoplasm of liver". The linker
retrieves it within ICD-10-CM and keeps a candidate whose title says that neoplasm of that site
(:meth:`SiteQuery.accepts`). Site words live in ``neoplasm_sites.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from clinlink.text.normalize import tokens

SITES_FILE = Path(__file__).with_name("neoplasm_sites.yaml")
MALIGNANT = re.compile(r"carcinom|cancer|sarcom|malignan|seminom")
METASTATIC = re.compile(r"metasta")
#: Words after the mention that attach a site to it: "carcinoma of the bladder", "metastases in both lungs".
ATTACHING = frozenset({"of", "in", "at", "on", "involving", "from"})
REACH = 5  # words after the mention searched for its site
PRIMARY_TITLES = ("malignant neoplasm of",)
SECONDARY_TITLES = ("secondary malignant neoplasm of", "secondary and unspecified malignant neoplasm of")


@dataclass(frozen=True, slots=True)
class SiteQuery:
    """The ICD-10-CM title to retrieve and what a candidate's title must say to be taken."""

    text: str
    titles: tuple[str, ...]
    site: str

    def accepts(self, title: str) -> bool:
        lowered = title.lower()
        return lowered.startswith(self.titles) and all(word in tokens(lowered) for word in tokens(self.site))


@cache
def site_words() -> dict[tuple[str, ...], str]:
    """Site word(s) of a note -> the site as ICD-10-CM names it."""
    data = yaml.safe_load(SITES_FILE.read_text(encoding="utf-8"))
    return {tuple(tokens(word)): site for word, site in data["sites"].items()}


def neoplasm_query(mention: str, context: str | None) -> SiteQuery | None:
    """The site query of a malignant or metastatic ``mention``, its site read in the mention or in the words of
    ``context`` (its sentence) that attach to it; None when it names no such neoplasm or no site."""
    words = tokens(mention)
    joined = " ".join(words)
    secondary = METASTATIC.search(joined) is not None and MALIGNANT.search(joined) is None
    if not secondary and MALIGNANT.search(joined) is None:
        return None
    site = _site_in(words) or _site_after(words, tokens(context or ""))
    if site is None:
        return None
    titles = SECONDARY_TITLES if secondary else PRIMARY_TITLES
    return SiteQuery(f"{titles[0]} {site}", titles, site)


def _site_in(words: list[str]) -> str | None:
    sites = site_words()
    for size in (2, 1):
        for start in range(len(words) - size + 1):
            site = sites.get(tuple(words[start : start + size]))
            if site is not None:
                return site
    return None


def _site_after(mention: list[str], context: list[str]) -> str | None:
    """The site in the few words after the mention's first occurrence in ``context``, if they attach to it."""
    following = attached_words(mention, context)
    return _site_in(following) if following else None


def attached_words(mention: list[str], context: list[str], reach: int = REACH) -> list[str]:
    """The words after the mention's first occurrence in ``context`` when they attach to it ("of the ..."), else []."""
    size = len(mention)
    for start in range(len(context) - size + 1):
        if context[start : start + size] == mention:
            following = context[start + size : start + size + reach]
            return following if following and following[0] in ATTACHING else []
    return []
