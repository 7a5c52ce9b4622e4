"""Streaming parser of OBO 1.2/1.4 ontologies (HPO, MONDO, DOID, ...)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

from clinlink.errors import SourceFormatError
from clinlink.kb.concept import Concept, Synonym
from clinlink.kb.loaders.common import open_text

log = logging.getLogger(__name__)

_SYNONYM = re.compile(r'^"((?:[^"\\]|\\.)*)"\s+(EXACT|RELATED|BROAD|NARROW)\b\s*([A-Za-z_:0-9]*)')
_QUOTED = re.compile(r'^"((?:[^"\\]|\\.)*)"')

#: HPO top-level branches -> (semantic type, UMLS semantic group).
HPO_BRANCHES = {
    "HP:0000118": ("Phenotypic abnormality", "DISO"),
    "HP:0000005": ("Mode of inheritance", "CONC"),
    "HP:0012823": ("Clinical modifier", "CONC"),
    "HP:0040279": ("Frequency", "CONC"),
    "HP:0031797": ("Clinical course", "CONC"),
    "HP:0032443": ("Past medical history", "CONC"),
    "HP:0032223": ("Blood group", "CONC"),
}


def _unescape(text: str) -> str:
    return text.replace('\\"', '"').replace("\\n", " ").replace("\\\\", "\\")


def _strip_comment(value: str) -> str:
    return value.split(" ! ", 1)[0].strip()


def parse_obo(path: str | Path, source: str | None = None) -> Iterator[Concept]:
    """Yield one :class:`Concept` per ``[Term]`` stanza of an OBO file.

    Keeps names, synonyms with their scope, ``is_a`` parents, ``alt_id``,
    ``obsolete`` with ``replaced_by``, xrefs and the definition. A stanza
    without ``id`` raises :class:`SourceFormatError` naming the line.
    """
    path = Path(path)
    in_term = False
    stanza: dict[str, list[str]] = {}
    start_line = 0
    with open_text(path) as handle:
        for line_number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if line.startswith("["):
                if in_term:
                    yield _concept(path, stanza, start_line, source)
                in_term = line == "[Term]"
                stanza, start_line = {}, line_number
                continue
            if not in_term or not line or line.startswith("!"):
                continue
            tag, sep, value = line.partition(":")
            if not sep:
                raise SourceFormatError(path, f"expected 'tag: value', got {line[:60]!r}", line_number)
            stanza.setdefault(tag.strip(), []).append(value.strip())
        if in_term:
            yield _concept(path, stanza, start_line, source)


def _concept(path: Path, stanza: dict[str, list[str]], line: int, source: str | None) -> Concept:
    ids = stanza.get("id")
    if not ids:
        raise SourceFormatError(path, "[Term] stanza without an 'id' tag", line)
    concept_id = ids[0]
    names = stanza.get("name") or [concept_id]
    synonyms = []
    for value in stanza.get("synonym", ()):
        match = _SYNONYM.match(value)
        if match is None:
            continue
        kind = match.group(2)
        if match.group(3) in ("abbreviation", "ABBREVIATION"):
            kind = "ABBREVIATION"
        synonyms.append(Synonym(_unescape(match.group(1)), kind))
    definition = None
    if stanza.get("def"):
        quoted = _QUOTED.match(stanza["def"][0])
        definition = _unescape(quoted.group(1)) if quoted else stanza["def"][0]
    replaced = stanza.get("replaced_by")
    return Concept(
        id=concept_id,
        source=source or concept_id.split(":", 1)[0],
        name=_unescape(names[0]),
        synonyms=synonyms,
        definition=definition,
        xrefs=[_strip_comment(x).split(" ", 1)[0] for x in stanza.get("xref", ())],
        parents=[_strip_comment(p) for p in stanza.get("is_a", ())],
        alt_ids=list(stanza.get("alt_id", ())),
        obsolete=stanza.get("is_obsolete", ["false"])[0] == "true",
        replaced_by=replaced[0] if replaced else None,
        metadata={"consider": stanza["consider"]} if stanza.get("consider") else {},
    )


def assign_hpo_branches(concepts: dict[str, Concept]) -> None:
    """Give every HPO concept the semantic type and group of its top-level branch."""
    memo: dict[str, tuple[str, ...]] = {}

    def branches(concept_id: str) -> tuple[str, ...]:
        if concept_id in memo:
            return memo[concept_id]
        memo[concept_id] = ()
        if concept_id in HPO_BRANCHES:
            found: tuple[str, ...] = (concept_id,)
        else:
            concept = concepts.get(concept_id)
            parents = concept.parents if concept else []
            found = tuple(sorted({b for parent in parents for b in branches(parent)}))
        memo[concept_id] = found
        return found

    for concept in concepts.values():
        found = branches(concept.id)
        concept.semantic_types = [HPO_BRANCHES[b][0] for b in found]
        groups = [HPO_BRANCHES[b][1] for b in found]
        concept.group = "DISO" if "DISO" in groups else (groups[0] if groups else "CONC")


def load_obo(path: str | Path, source: str | None = None) -> list[Concept]:
    """All concepts of an OBO file; HPO terms also get their branch as semantic type."""
    concepts = {c.id: c for c in parse_obo(path, source)}
    if any(cid.startswith("HP:") for cid in concepts):
        assign_hpo_branches(concepts)
    log.info("loaded %d concepts from %s", len(concepts), path)
    return list(concepts.values())
