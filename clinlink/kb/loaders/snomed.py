"""SNOMED CT RF2 Snapshot loader: one concept per SCTID (``SNOMEDCT:60046008``).

``path`` is the ``Snapshot`` folder or the release root; files are found by their RF2 names:

- ``sct2_Concept_Snapshot*`` (required): active flag (inactive concepts are kept as obsolete).
- ``sct2_Description_Snapshot*`` (required): active FSN and synonyms of the chosen languages;
  the FSN's semantic tag ("(disorder)") gives the semantic type and group.
- ``der2_cRefset_LanguageSnapshot*``: the preferred synonym of a language refset names the concept.
- ``sct2_TextDefinition_Snapshot*``: a definition.
- ``sct2_Relationship_Snapshot*``: active ``116680003 |Is a|`` rows give the parents.
- ``der2_iisssccRefset_ExtendedMapSnapshot*``: ICD-10 (447562003) and ICD-10-CM (6011000124106)
  map targets become xrefs ``ICD10:J90`` / ``ICD10CM:J90``.
- ``der2_cRefset_Association*Snapshot*``: REPLACED BY / SAME AS give an inactive concept's replacement.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from clinlink.errors import SourceFormatError
from clinlink.kb.concept import Concept, Synonym
from clinlink.kb.loaders.delimited import check_on_error, rf2_rows
from clinlink.kb.semantic_groups import snomed_tag_group

log = logging.getLogger(__name__)

PREFIX = "SNOMEDCT"
FSN = "900000000000003001"
SYNONYM = "900000000000013009"
IS_A = "116680003"
PREFERRED = "900000000000548007"
US_ENGLISH = "900000000000509007"
REPLACED_BY = ("900000000000526001", "900000000000527005")  # REPLACED BY, SAME AS
#: Map refsets -> xref prefix of their targets.
MAP_REFSETS = {"447562003": "ICD10", "6011000124106": "ICD10CM"}

_BASE = ("id", "effectiveTime", "active", "moduleId")
_REFSET = (*_BASE, "refsetId", "referencedComponentId")
#: kind -> (file name pattern, RF2 columns, required)
FILES = {
    "concept": ("sct2_Concept_Snapshot*.txt", (*_BASE, "definitionStatusId"), True),
    "description": (
        "sct2_Description_Snapshot*.txt",
        (*_BASE, "conceptId", "languageCode", "typeId", "term", "caseSignificanceId"),
        True,
    ),
    "definition": (
        "sct2_TextDefinition_Snapshot*.txt",
        (*_BASE, "conceptId", "languageCode", "typeId", "term", "caseSignificanceId"),
        False,
    ),
    "relationship": (
        "sct2_Relationship_Snapshot*.txt",
        (*_BASE, "sourceId", "destinationId", "relationshipGroup", "typeId", "characteristicTypeId", "modifierId"),
        False,
    ),
    "language": ("der2_cRefset_LanguageSnapshot*.txt", (*_REFSET, "acceptabilityId"), False),
    "map": (
        "der2_iisssccRefset_ExtendedMapSnapshot*.txt",
        (*_REFSET, "mapGroup", "mapPriority", "mapRule", "mapAdvice", "mapTarget", "correlationId", "mapCategoryId"),
        False,
    ),
    "association": ("der2_cRefset_Association*Snapshot*.txt", (*_REFSET, "targetComponentId"), False),
}
_TAG = re.compile(r"^(.*\S)\s+\(([^()]+)\)$")


# -- source interface ---------------------------------------------------------
def default_path() -> Path | None:
    """SNOMED CT is licensed: there is no packaged default; set ``path`` to an RF2 release."""
    return None


def _release_files(path: Path) -> dict[str, list[Path]]:
    path = Path(path)
    if not path.exists():
        raise SourceFormatError(path, "SNOMED CT release folder not found")
    if not path.is_dir():
        raise SourceFormatError(path, "expected the RF2 Snapshot folder (or release root), found a file")
    found = {kind: sorted(path.rglob(pattern)) for kind, (pattern, _, _) in FILES.items()}
    for kind, (pattern, _, required) in FILES.items():
        if required and not found[kind]:
            raise SourceFormatError(path, f"no {pattern} found (is this an RF2 Snapshot folder?)")
    return found


def input_files(path: Path) -> list[Path]:
    return [file for files in _release_files(path).values() for file in files]


def version(path: Path) -> str:
    """The edition and date of the concept file name (``INT_20250101``)."""
    names = []
    for file in _release_files(path)["concept"]:
        match = re.search(r"_Snapshot_(.+)\.txt$", file.name)
        names.append(match.group(1) if match else file.stem)
    return "+".join(names)


# -- parsing ------------------------------------------------------------------
def split_semantic_tag(fsn: str) -> tuple[str, str]:
    """``Pleural effusion (disorder)`` -> (``Pleural effusion``, ``disorder``)."""
    match = _TAG.match(fsn)
    return (match.group(1), match.group(2)) if match else (fsn, "")


def _rows(files: dict[str, list[Path]], kind: str, on_error: str) -> Iterable[list[str]]:
    columns = FILES[kind][1]
    for file in files[kind]:
        yield from rf2_rows(file, columns, on_error)


def load(
    path: Path,
    languages: Iterable[str] = ("en",),
    language_refset: str | None = US_ENGLISH,
    map_refsets: Iterable[str] = tuple(MAP_REFSETS),
    on_error: str = "raise",
) -> list[Concept]:
    """All concepts of an RF2 Snapshot, inactive ones as obsolete.

    Options: ``languages`` (description language codes), ``language_refset`` (whose
    preferred synonym names a concept; default US English, ``null`` = any),
    ``map_refsets`` (extended map refsets read for xrefs) and ``on_error``
    (``raise`` or ``skip`` malformed rows).
    """
    check_on_error(on_error)
    files = _release_files(path)
    wanted_languages = {languages} if isinstance(languages, str) else set(languages)
    active: dict[str, bool] = {row[0]: row[2] == "1" for row in _rows(files, "concept", on_error)}

    fsn: dict[str, str] = {}
    terms: dict[str, list[tuple[str, str]]] = {}  # concept -> [(description id, synonym)]
    for desc_id, _, is_active, _, concept_id, language, type_id, term, _ in _rows(files, "description", on_error):
        if is_active != "1" or language not in wanted_languages or concept_id not in active:
            continue
        if type_id == FSN:
            fsn.setdefault(concept_id, term)
        elif type_id == SYNONYM:
            terms.setdefault(concept_id, []).append((desc_id, term))

    preferred: set[str] = set()
    for row in _rows(files, "language", on_error):
        if row[2] == "1" and row[6] == PREFERRED and (language_refset is None or row[4] == str(language_refset)):
            preferred.add(row[5])

    definitions: dict[str, str] = {}
    for _, _, is_active, _, concept_id, language, _, term, _ in _rows(files, "definition", on_error):
        if is_active == "1" and language in wanted_languages:
            definitions.setdefault(concept_id, term)

    parents: dict[str, list[str]] = {}
    for row in _rows(files, "relationship", on_error):
        if row[2] == "1" and row[7] == IS_A and row[4] in active and row[4] != row[5]:
            parents.setdefault(row[4], []).append(f"{PREFIX}:{row[5]}")

    prefixes = {str(r): MAP_REFSETS.get(str(r), "ICD10") for r in map_refsets}
    xrefs: dict[str, dict[str, None]] = {}
    for row in _rows(files, "map", on_error):
        target = row[10].strip()
        if row[2] == "1" and row[4] in prefixes and target and row[5] in active:
            xrefs.setdefault(row[5], {})[f"{prefixes[row[4]]}:{target}"] = None

    replaced_by: dict[str, str] = {}
    for row in _rows(files, "association", on_error):
        if row[2] == "1" and row[4] in REPLACED_BY and row[5] in active:
            replaced_by.setdefault(row[5], f"{PREFIX}:{row[6]}")

    concepts = []
    unnamed = 0
    for concept_id, is_active in active.items():
        full_name = fsn.get(concept_id, "")
        bare_name, tag = split_semantic_tag(full_name)
        synonyms = terms.get(concept_id, [])
        name = next((term for desc_id, term in synonyms if desc_id in preferred), bare_name or None)
        if name is None:
            name = synonyms[0][1] if synonyms else concept_id
            unnamed += not synonyms
        names = dict.fromkeys(term for _, term in synonyms)
        if bare_name:
            names.setdefault(bare_name, None)
        names.pop(name, None)
        concepts.append(
            Concept(
                id=f"{PREFIX}:{concept_id}",
                source=PREFIX,
                name=name,
                synonyms=[Synonym(term, "EXACT") for term in names],
                semantic_types=[tag] if tag else [],
                group=snomed_tag_group(tag),
                definition=definitions.get(concept_id),
                xrefs=list(xrefs.get(concept_id, ())),
                parents=parents.get(concept_id, []),
                obsolete=not is_active,
                replaced_by=replaced_by.get(concept_id),
                metadata={"fsn": [full_name]} if full_name else {},
            )
        )
    if unnamed:
        log.warning("%s: %d concept(s) have no active description in %s", path, unnamed, sorted(wanted_languages))
    log.info("loaded %d SNOMED CT concepts from %s", len(concepts), path)
    return concepts
