"""Mine a coding lexicon (:mod:`clinlink.linking.coding_lexicon`) from notes coded at the document level.

Two kinds of entries:

- **phrase -> code.** Word n-grams (1-4 words, not starting or ending on a stop word or ending on a side word,
  naming no procedure, outside a negation cue's reach) whose documents carry one code in at least ``min_precision`` of them, over at least ``min_documents``
  documents, and whose every content word is a word of that code's ICD-10-CM names (title, inclusion terms, its
  parent code's) or a form of one: "paresthesia" -> R20.2 *Paresthesia of skin*, "cigarettes" -> F17.210. The word rule keeps
  what the ICD-10-CM names support and leaves out what only co-occurs ("radical nephrectomy" -> a kidney
  disorder, "disease" -> R69 *Illness, unspecified*), which coders' habits would otherwise teach.
- **phrase -> no code.** A mention text that the pipeline codes, in at least ``min_documents`` documents, with a
  code that the documents' codes hold (itself, an ancestor or a descendant: editions differ, R51 became R51.9) in
  at most ``max_uncoded_precision`` of them ("tumor" -> D49.9, a neoplasm of unspecified behaviour and site).
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache

from clinlink.kb import KnowledgeBase
from clinlink.linking.candidates import Candidate
from clinlink.linking.coding_lexicon import ICD10CM_PREFIX, CodingLexicon, LexiconEntry
from clinlink.linking.icd_names import icd_core_names
from clinlink.linking.sites import site_sections, site_words
from clinlink.text.normalize import normalize, stem, tokens

MAX_WORDS = 4
#: Candidates retrieved per phrase: the top one's category may confirm its code (two-fold CV on CodiEsp train: F1
#: 0.468 / 0.472 against 0.469 / 0.468 for any of the top 3, with 20 % fewer entries).
RETRIEVED = 1
STOP_WORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or the to was were with this that these those he she "
    "his her their our we you your patient which who whom after before during since per than then there also very due "
    "both each other into over under about between so such some any all more most less few no not nor".split()
)
#: Words a phrase may not end on: "pain in the lower", "ankle and left".
OPEN_ENDS = frozenset("left right lower upper bilateral anterior posterior superior inferior".split())
#: Procedures: a code for what the surgery treated or the test found is an inference, not what the words name
#: ("prostatectomy", "pericardiocentesis", "coronary arteriography").
PROCEDURE = re.compile(r"(?:(?:ectom|otom|ostom|scop|graph|biops)(?:y|ies|ized?)|centesis|plast(?:y|ies))$")
#: Drug classes: a drug's code is what it treats, an inference ("bronchodilators" -> a respiratory disorder).
DRUG = re.compile(r"(?:dilator|blocker|inhibitor|agonist|antagonist|antibiotic|diuretic|analgesic)s?$")
NEGATION = re.compile(r"\b(?:no|not|without|denie[sd]|negative|absence|absent|ruled out|free of|nor)\b")
NEGATION_REACH = 6  # words before an n-gram that a negation cue reaches
#: Words of a narrative, not of a condition: a phrase holding one is a piece of a sentence ("abdominal
#: examination revealed", "admitted for abdominal"); retrieval does not confirm it.
NARRATIVE_WORDS = frozenset(
    "showed shows revealed reveals diagnosed diagnosis admitted complained presented developed examination episode "
    "same secondary".split()
)
#: Words of ICD-10-CM names that say nothing of what a phrase names.
GENERIC_NAME_WORDS = frozenset(
    "unspecified other specified elsewhere classified without with disorder disorders disease diseases condition "
    "conditions site sites type".split()
)


def mine_lexicon(
    kb: KnowledgeBase,
    texts: Mapping[str, str],
    codes: Mapping[str, set[str]],
    mention_codes: Mapping[str, Iterable[tuple[str, str]]] = {},
    min_documents: int = 2,
    min_precision: float = 0.6,
    max_uncoded_precision: float = 0.25,
    min_uncoded_documents: int = 5,
    retrieve: Callable[[Sequence[str]], list[list[Candidate]]] | None = None,
) -> CodingLexicon:
    """``texts``: document id -> text; ``codes``: document id -> its ICD-10-CM codes; ``mention_codes``:
    document id -> (mention text, code) pairs that the pipeline coded (its ``doc._.codes``), for the no-code
    entries. ``retrieve`` (phrases -> each one's top ICD-10-CM candidates, e.g. the linker's) confirms a code
    whose names do not hold the phrase's words when its category is among the phrase's candidates."""
    found = Counter()
    together: dict[str, Counter] = defaultdict(Counter)
    surface: dict[str, Counter] = defaultdict(Counter)
    for doc_id, text in texts.items():
        for key, phrase in _affirmed_ngrams(text).items():
            found[key] += 1
            surface[key][phrase] += 1
            together[key].update(codes.get(doc_id, ()))
    candidates: dict[str, list[LexiconEntry]] = {}
    for key, counts in together.items():
        documents = found[key]
        if documents < min_documents:
            continue
        phrase = surface[key].most_common(1)[0][0]
        for code, hits in sorted(counts.items(), key=lambda item: (-item[1], item[0])):  # ties by code: deterministic
            if hits < min_documents or hits / documents < min_precision:
                break
            valid = _valid_code(kb, code)
            if valid is not None:
                candidates.setdefault(key, []).append(LexiconEntry(phrase, valid, documents, round(hits / documents, 3)))
    entries = _whole_phrases(_supported(kb, candidates, retrieve))
    for key, entry in _uncoded(mention_codes, codes, min_uncoded_documents, max_uncoded_precision).items():
        entries.setdefault(key, entry)
    return CodingLexicon(entries)


def mine_from_notes(
    kb: KnowledgeBase, texts: Mapping[str, str], codes: Mapping[str, set[str]], min_documents: int = 2, min_precision: float = 0.6
) -> CodingLexicon:
    """:func:`mine_lexicon` with the ``clinical`` pipeline read without any coding lexicon: its ``doc._.codes``
    give the no-code entries and its linker's retrieval confirms codes (what ``clinlink train coding-lexicon``
    runs)."""
    import clinlink

    nlp = clinlink.load("clinical", ner={"coding_lexicon": None}, linker={"coding_lexicon": None})
    mentions = {  # the pipeline's own codes of each note (absent, family, hypothetical left out), with their mention texts
        doc_id: [(text, entry["code"]) for entry in (doc._.codes or {}).get("ICD10CM", []) for _, _, text in entry["mentions"]]
        for doc_id, doc in zip(texts, nlp.pipe(texts.values(), batch_size=32))
    }
    linker = nlp.get_pipe("linker").linker
    return mine_lexicon(
        kb, texts, codes, mentions, min_documents, min_precision,
        retrieve=lambda phrases: linker.link(list(phrases), k=RETRIEVED, sources=["ICD10CM"]),
    )


def _supported(
    kb: KnowledgeBase, candidates: dict[str, list[LexiconEntry]], retrieve: Callable[[Sequence[str]], list[list[Candidate]]] | None
) -> dict[str, LexiconEntry]:
    """Each phrase's first candidate that the ICD-10-CM names support: its words are the code's, or (with
    ``retrieve``) its category is that of the phrase's top retrieved code, which is not another code's exact name,
    no shorter part of the phrase names that category already and the phrase holds no narrative word
    ("lymphadenopathy" -> R59.9 where the linker reads R59.1: the documents choose within the category the KB
    reads, never outside it; "nausea" stays R11.0 *Nausea* whatever else its notes are coded with; "history of
    fever" is left to "fever"; "abdominal examination revealed" is no condition)."""
    words_of = _CodeWords(kb)
    entries: dict[str, LexiconEntry] = {}
    unnamed: list[str] = []
    for key, options in candidates.items():
        named = next((entry for entry in options if _named_by(entry.phrase, words_of(entry.code))), None)
        if named is not None:
            entries[key] = named
        else:
            unnamed.append(key)
    if retrieve is None or not unnamed:
        return entries
    cores = icd_core_names(kb)

    def names_category(part: str, category: str) -> bool:
        entry = entries.get(part)
        return (entry is not None and entry.code[:3] == category) or cores.get(part, "").removeprefix(ICD10CM_PREFIX)[:3] == category

    unnamed = [
        key for key in unnamed
        if not NARRATIVE_WORDS.intersection(candidates[key][0].phrase.split()) and not _only_places(candidates[key][0].phrase)
    ]
    for key, retrieved in zip(unnamed, retrieve([candidates[key][0].phrase for key in unnamed])):
        top = retrieved[0].concept_id.removeprefix(ICD10CM_PREFIX) if retrieved else ""
        confirmed = next((entry for entry in candidates[key] if top and entry.code[:3] == top[:3]), None)
        if confirmed is None or (retrieved[0].exact and top != confirmed.code):
            continue
        words = key.split()
        parts = (" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1) if j - i < len(words))
        if not any(names_category(part, top[:3]) for part in parts):
            entries[key] = confirmed
    return entries


def _affirmed_ngrams(text: str) -> dict[str, str]:
    """Normalized key -> surface of the document's n-grams that occur at least once outside a negation's reach.
    An n-gram stays within one conjunct: it holds no comma and no "and"/"or" ("hypertension, dyslipidemia" and
    "fever and abdominal pain" name two conditions, not one)."""
    found: dict[str, str] = {}
    for clause in re.split(r"[.;:\n]\s*", text):
        words, conjunct = _conjunct_words(clause)
        for start, first in enumerate(words):
            if first in STOP_WORDS or first.isdigit():
                continue
            if NEGATION.search(" ".join(words[max(0, start - NEGATION_REACH) : start])):
                continue
            for end in range(start + 1, min(start + MAX_WORDS, len(words)) + 1):
                if any(word.isdigit() for word in words[start:end]) or conjunct[end - 1] != conjunct[start]:
                    break
                if words[end - 1] in STOP_WORDS or words[end - 1] in OPEN_ENDS or any(PROCEDURE.search(w) or DRUG.search(w) for w in words[start:end]):
                    continue
                if NEGATION.search(" ".join(words[start:end])):
                    break  # "had no fever", "hiv negative": longer n-grams hold the cue too
                phrase = " ".join(words[start:end])
                found.setdefault(" ".join(stem(w) for w in words[start:end]), phrase)
    return found


def _conjunct_words(clause: str) -> tuple[list[str], list[int]]:
    """The clause's words, and for each the number of its conjunct (a comma or an "and"/"or" starts the next;
    the connector is a conjunct of its own)."""
    words: list[str] = []
    numbers: list[int] = []
    number = 0
    for piece in clause.split(","):
        for word in tokens(piece):
            connector = word in ("and", "or")
            number += connector
            words.append(word)
            numbers.append(number)
            number += connector
        number += 1
    return words, numbers


class _CodeWords:
    """Words of a code's ICD-10-CM names and its parent's (cached)."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.cache: dict[str, frozenset[str]] = {}

    def __call__(self, code: str) -> frozenset[str]:
        if code not in self.cache:
            concept_id = ICD10CM_PREFIX + code
            ids = [concept_id, *(p for p in self.kb.get(concept_id).parents if "-" not in p)]  # codes, not chapter ranges
            words = {w for cid in ids if self.kb.find(cid) for name in self.kb.names(cid) for w in tokens(name)}
            self.cache[code] = frozenset(words)
        return self.cache[code]


def _whole_phrases(entries: dict[str, LexiconEntry]) -> dict[str, LexiconEntry]:
    """Drops fragments: a phrase inside a longer one with the same code that holds at least half its documents
    ("mellitus" in "diabetes mellitus", "benign" in "benign prostatic hyperplasia")."""
    kept = {}
    for key, entry in entries.items():
        words = f" {key} "
        longer = (
            other for other_key, other in entries.items()
            if other.code == entry.code and other_key != key and words in f" {other_key} " and other.documents * 2 >= entry.documents
        )
        if next(longer, None) is None:
            kept[key] = entry
    return kept


@cache
def _places() -> frozenset[str]:
    """One-word sites of the site rules, every section ("prostatic", "rib", "celiac", "hip"): a place, not a
    condition."""
    return frozenset(key[0] for section in site_sections() for key in site_words(section) if len(key) == 1)


#: Words of anatomy that the site rules do not list, since no code is chosen by them ("right coronary artery").
ANATOMY_WORDS = frozenset("artery arteries coronary vein veins vessel vessels trunk wall lobe segment area region appendix".split())


def _only_places(phrase: str) -> bool:
    """Whether every content word of ``phrase`` is a place, a side or a word of anatomy ("right hip", "celiac",
    "right coronary artery")."""
    return all(w in _places() or w in OPEN_ENDS or w in ANATOMY_WORDS for w in phrase.split() if w not in STOP_WORDS)


def _named_by(phrase: str, code_words: frozenset[str]) -> bool:
    """Every content word of ``phrase`` is one of ``code_words``, allowing inflection and derivation (same first
    stem, or a name's word inside it: "hyperbilirubinemia" ~ "bilirubin"), and one of them names more than a body
    site ("prostatic" alone is not C61 *Malignant neoplasm of prostate*)."""
    content = [w for w in phrase.split() if w not in STOP_WORDS]
    if _only_places(phrase):
        return False
    specific = code_words - GENERIC_NAME_WORDS

    def named(word: str) -> bool:
        if word in GENERIC_NAME_WORDS:  # "disease" is named only by a name that says it: "heart disease" -> I51.9
            return word in code_words
        return any(word == w or _same_stem(word, w) or (len(w) >= 6 and w in word) for w in specific)

    return any(w not in GENERIC_NAME_WORDS for w in content) and all(named(word) for word in content)


def _same_stem(word: str, other: str) -> bool:
    """Two forms of one word: a shared beginning of at least six letters that leaves at most five letters of
    the longer ("diabetic" ~ "diabetes", "depressive" ~ "depression"; not "hyperintense" ~ "hypertension",
    "pneumothorax" ~ "pneumonia")."""
    shared = len(os.path.commonprefix([word, other]))
    return shared >= 6 and shared >= max(len(word), len(other)) - 5


def _valid_code(kb: KnowledgeBase, code: str) -> str | None:
    """The code as the KB holds it: itself, else its longest valid prefix (a code written without its 7th
    character's placeholder, "S39.94X" -> S39.94)."""
    text = code.strip().upper()
    while len(text) >= 3:
        if kb.find(ICD10CM_PREFIX + text) is not None:
            return text
        text = text[:-1].rstrip(".")
    return None


def _uncoded(
    mention_codes: Mapping[str, Iterable[tuple[str, str]]], codes: Mapping[str, set[str]], min_documents: int, max_precision: float
) -> dict[str, LexiconEntry]:
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    kept: dict[tuple[str, str], set[str]] = defaultdict(set)
    surface: dict[str, str] = {}
    for doc_id, pairs in mention_codes.items():
        gold = codes.get(doc_id, ())
        for text, code in pairs:
            key = normalize(text)
            surface.setdefault(key, text.lower())
            seen[key, code].add(doc_id)
            if any(code.startswith(other) or other.startswith(code) for other in gold):
                kept[key, code].add(doc_id)
    entries = {}
    for (key, code), documents in seen.items():
        precision = len(kept[key, code]) / len(documents)
        if len(documents) >= min_documents and precision <= max_precision:
            entries[key] = LexiconEntry(surface[key], None, len(documents), round(precision, 3))
    return entries
