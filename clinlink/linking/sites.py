"""Where a cancer, a tumor, an adenoma, a fracture, a pain, a mass, a stone or a bleeding is: their ICD-10-CM codes
need the site, which notes write beside the head word ("gastric adenocarcinoma", "carcinoma of the left kidney",
"left rib fracture", "tumor of the bladder", "pain in the right iliac fossa", "a mass in the left kidney", "renal
lithiasis", "vaginal bleeding").

:func:`site_query` turns a mention with a malignant head (carcinoma, cancer, sarcoma, malignancy, seminoma), a
metastatic one, a fracture, a tumor (a neoplasm of unspecified behavior, coded by body system), enlarged lymph
nodes or pain, and a site word in the mention, right after it ("of / in the ...") or just before it, into the title
ICD-10-CM gives it: "Malignant neoplasm of stomach", "Secondary malignant neoplasm of liver", "Fracture of rib",
"Localized enlarged lymph nodes", "Lower quadrant pain". The linker retrieves that title within ICD-10-CM and keeps a
candidate whose title says that condition of that site in the right chapter (:meth:`SiteQuery.accepts`). A mass, a
stone or a bleeding has no such titles: the Alphabetic Index gives its code by site ("Mass, kidney N28.89",
"Calculus, kidney N20.0", "Hemorrhage, rectum K62.5"), and its section of ``sites.yaml`` holds that code
(:attr:`SiteQuery.code`). Site words live in ``sites.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from clinlink.text.normalize import stem, tokens

SITES_FILE = Path(__file__).with_name("sites.yaml")
#: Words after the mention that attach a site to it: "carcinoma of the bladder", "metastases in both lungs".
ATTACHING = frozenset({"of", "in", "at", "on", "involving", "from"})
REACH_AFTER = 5  # words after the mention searched for its site
REACH_BEFORE = 2  # words just before it ("left rib fracture", "prostate adenocarcinoma")


@dataclass(frozen=True, slots=True)
class SiteKind:
    """A head whose code needs a site: the pattern of its mention, the site words it takes, the titles it
    has in ICD-10-CM and the chapter letter of its codes."""

    head: re.Pattern
    sites: str  # the sites.yaml section
    titles: tuple[str, ...]  # what a candidate's title starts with (none: the site words say it all)
    chapter: str | tuple[str, ...]  # the first letter(s) of its codes
    unless: re.Pattern | None = None  # a mention matching this is another kind
    query: str = "{title} {site}"  # the title to retrieve, from the first title and the site
    indexed: bool = False  # the sites.yaml section gives each site's code (the Index's), nothing is retrieved


MALIGNANT = SiteKind(re.compile(r"carcinom|cancer|sarcom|malignan|seminom"), "organs", ("malignant neoplasm of",), "C")
SECONDARY = SiteKind(
    re.compile(r"metasta"), "organs", ("secondary malignant neoplasm of", "secondary and unspecified malignant neoplasm of"), "C",
    unless=MALIGNANT.head,
)
FRACTURE = SiteKind(
    re.compile(r"\bfracture"), "bones", ("fracture of", "unspecified fracture of", "multiple fractures of", "other fracture of"), "S",
    unless=re.compile(r"patholog|stress|fragility|osteoporo"),
)
#: "Tumor - see Neoplasm, unspecified behavior, by site" (the Alphabetic Index): D49, whose titles name body systems.
UNSPECIFIED_BEHAVIOR = SiteKind(
    re.compile(r"\btumou?r|\bneoplas"), "systems", ("neoplasm of unspecified behavior of",), "D", unless=re.compile(r"benign|metasta"),
)
#: Enlarged lymph nodes where the note names a region: "Localized enlarged lymph nodes" R59.0 ("axillary
#: adenopathies"), "Generalized ..." R59.1.
LYMPH_NODES = SiteKind(
    re.compile(r"adenopath|enlarged (?:lymph )?nodes?|lymph node enlargement"), "lymph_regions",
    ("localized enlarged lymph nodes", "generalized enlarged lymph nodes"), "R", query="{site} enlarged lymph nodes",
)
#: "Pain(s), by site" (the Alphabetic Index): "pain in the right iliac fossa" -> R10.31 *Right lower quadrant pain*,
#: "lumbar pain" -> M54.50, "pain in the left knee" -> M25.562; the site section holds the titles' own words.
PAIN = SiteKind(re.compile(r"^(?:\w+ )?pains?$"), "pain_sites", (), ("R", "M", "N", "H"), query="{site}")
#: "Adenoma - see also Neoplasm, benign, by site" (the Alphabetic Index): "adrenal adenoma" -> D35.00.
BENIGN = SiteKind(re.compile(r"\badenomas?$"), "organs", ("benign neoplasm of",), "D", unless=re.compile(r"carcinom|malignan|pleomorph"))
#: "Lithiasis - see Calculus", by site (the Index): "lithiasis in the right kidney" -> N20.0, "gallbladder lithiasis" -> K80.20.
CALCULUS = SiteKind(re.compile(r"lithiasis$|\bcalcul(?:us|i)$"), "calculus_sites", (), ("N", "K"), indexed=True)
#: "Mass" and "Lump - see Mass" (the Alphabetic Index), by site: "a mass in the left kidney" -> N28.89, "pelvic mass"
#: -> R19.00, "lung mass" -> R91.8; "specified organ NEC - see Disease, by site" ("testicular mass" -> N50.9).
MASS = SiteKind(re.compile(r"^(?:\w+ )?(?:mass|lump)(?:es|s)?$"), "mass_sites", (), ("R", "N", "K", "E", "J"), indexed=True)
#: "Hemorrhage, hemorrhagic (concealed)", by site (the Index; "Bleeding - see Hemorrhage"): "vaginal bleeding" ->
#: N93.9, "subarachnoid bleeding" -> I60.9, "intraretinal hemorrhages" -> H35.6- with the side.
HEMORRHAGE = SiteKind(re.compile(r"^(?:\w+ )?(?:bleeding|ha?emorrhages?)$"), "hemorrhage_sites", (), ("N", "K", "R", "I", "H"), indexed=True)
KINDS = (MALIGNANT, SECONDARY, FRACTURE, UNSPECIFIED_BEHAVIOR, LYMPH_NODES, PAIN, MASS, BENIGN, CALCULUS, HEMORRHAGE)


@dataclass(frozen=True, slots=True)
class SiteQuery:
    """The ICD-10-CM title to retrieve and what a candidate must say to be taken."""

    text: str
    kind: SiteKind
    site: str

    @property
    def code(self) -> str | None:
        """The site's code where the Index gives it (an ``indexed`` kind), else None: retrieve :attr:`text`."""
        return self.site if self.kind.indexed else None

    def accepts(self, code: str, title: str) -> bool:
        lowered = title.lower()
        return (
            code.startswith(self.kind.chapter)
            and (not self.kind.titles or lowered.startswith(self.kind.titles))
            and set(tokens(self.site)) <= set(tokens(lowered))
        )


@cache
def site_sections() -> tuple[str, ...]:
    """The sections of ``sites.yaml`` (organs, bones, pain sites, ...)."""
    return tuple(yaml.safe_load(SITES_FILE.read_text(encoding="utf-8")))


@cache
def site_words(section: str) -> dict[tuple[str, ...], str]:
    """Site word(s) of a note -> the site as ICD-10-CM names it, for one section of ``sites.yaml``."""
    data = yaml.safe_load(SITES_FILE.read_text(encoding="utf-8"))
    return {tuple(tokens(word)): site for word, site in data[section].items()}


def site_query(mention: str, context: str | None, position: tuple[int, int] | None = None) -> SiteQuery | None:
    """The site query of ``mention``, its site read in the mention or in the words of ``context`` (its
    sentence) attached to it or just before it; None when it names no such condition or no site. ``position``
    (the mention's start and end characters in ``context``) tells apart mentions said twice ("liver metastases
    and bone metastases"); without it the mention's first occurrence counts."""
    words = tokens(mention)
    joined = " ".join(words)
    kind = next((k for k in KINDS if k.head.search(joined) and not (k.unless and k.unless.search(joined))), None)
    if kind is None:
        return None
    sites = site_words(kind.sites)
    site = _site_in(words, sites)
    if site is None:
        before, attached = words_around(words, context or "", position)
        site = _site_in(attached, sites) or _site_in(before, sites)
    if site is None:
        return None
    return SiteQuery(kind.query.format(title=next(iter(kind.titles), ""), site=site), kind, site)


def _site_in(words: list[str], sites: dict[tuple[str, ...], str]) -> str | None:
    """The first site ``words`` name, a plural read as its singular ("both lungs", "the ovaries"; :func:`stem`)."""
    for size in (2, 1):
        for start in range(len(words) - size + 1):
            key = tuple(words[start : start + size])
            site = sites.get(key) or sites.get(tuple(stem(word) for word in key))
            if site is not None:
                return site
    return None



def words_around(
    mention: list[str], text: str, position: tuple[int, int] | None, reach_after: int = REACH_AFTER
) -> tuple[list[str], list[str]]:
    """The words just before the mention (``mention``: its words) and up to ``reach_after`` words after it when
    they attach to it ("of the left femur"; else none): at ``position`` in ``text``, else at its first occurrence."""
    before: list[str] = []
    after: list[str] = []
    if position is not None:
        start, end = position
        before, after = tokens(text[:start])[-REACH_BEFORE:], tokens(text[end:])[:reach_after]
    else:
        context = tokens(text)
        size = len(mention)
        found = next((start for start in range(len(context) - size + 1) if context[start : start + size] == mention), None)
        if found is not None:
            before, after = context[max(0, found - REACH_BEFORE) : found], context[found + size : found + size + reach_after]
    return before, after if after[:1] and after[0] in ATTACHING else []
