"""Streaming parser of the ICD-10-CM tabular list XML (CMS/NCHS release format)."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from clinlink.errors import SourceFormatError
from clinlink.kb.concept import Concept, Synonym

log = logging.getLogger(__name__)

PREFIX = "ICD10CM"
_NOTE_KINDS = ("excludes1", "excludes2", "includes", "codeFirst", "useAdditionalCode", "codeAlso")


def chapter_group(chapter: int) -> str:
    """UMLS semantic group of an ICD-10-CM chapter."""
    if chapter == 20:
        return "ACTI"
    if chapter == 21:
        return "CONC"
    return "DISO"


def block_id(section: str) -> str:
    """``A00-A09`` -> ``ICD10CM:A00-A09``; a one-category block ``B10`` -> ``ICD10CM:B10-B10``
    so that it does not take the id of category B10."""
    return f"{PREFIX}:{section if '-' in section else f'{section}-{section}'}"


def _notes(element: ET.Element, tag: str) -> list[str]:
    return [(note.text or "").strip() for child in element.findall(tag) for note in child.findall("note")]


def _seventh_code(code: str, char: str) -> str:
    """``S00.01`` + ``A`` -> ``S00.01XA`` (placeholder X up to six characters)."""
    bare = code.replace(".", "")
    bare = bare.ljust(6, "X") + char
    return f"{bare[:3]}.{bare[3:]}"


def parse_icd10cm(path: str | Path, expand_seventh_character: bool = True) -> Iterator[Concept]:
    """Yield chapters, blocks, categories and codes as concepts with their hierarchy.

    Inclusion terms become INCLUSION synonyms; excludes and coding notes are kept
    in ``metadata``. With ``expand_seventh_character`` the 7th-character codes
    (``S00.01XA``) are generated from ``sevenChrDef`` as unindexed leaf concepts.
    """
    path = Path(path)
    if not path.exists():
        raise SourceFormatError(path, "file not found")
    if path.is_dir():
        raise SourceFormatError(path, "is a directory, expected a file")
    stack: list[ET.Element] = []
    chapter_number = 0
    # Each open diag carries (code, seventh-character definitions in force).
    diag_context: list[tuple[str, dict[str, str]]] = []
    chapter_id = section_id = ""
    try:
        for event, element in ET.iterparse(path, events=("start", "end")):
            tag = element.tag
            if event == "start":
                if tag == "section":
                    section_id = block_id(element.get("id", ""))
                stack.append(element)
                continue
            stack.pop()
            if tag == "name" and stack and stack[-1].tag == "chapter":
                chapter_number = int((element.text or "0").strip() or 0)
                chapter_id = f"{PREFIX}:chapter-{chapter_number}"
            elif tag == "desc" and stack and stack[-1].tag == "chapter":
                yield Concept(
                    id=chapter_id, source=PREFIX, name=(element.text or "").strip(),
                    semantic_types=["ICD-10-CM chapter"], group=chapter_group(chapter_number),
                    metadata={"level": ["chapter"]}, indexed=False,
                )
            elif tag == "section":
                desc = (element.findtext("desc") or element.get("id", "")).strip()
                yield Concept(
                    id=section_id, source=PREFIX, name=desc, parents=[chapter_id],
                    semantic_types=["ICD-10-CM block"], group=chapter_group(chapter_number),
                    metadata={"level": ["block"]}, indexed=False,
                )
                element.clear()
            elif tag == "diag":
                yield from _diag_concepts(
                    element, stack, section_id, chapter_number, diag_context, expand_seventh_character
                )
    except ET.ParseError as error:
        line = error.position[0] if hasattr(error, "position") else None
        raise SourceFormatError(path, f"malformed XML: {error}", line) from error
    except OSError as error:
        raise SourceFormatError(path, f"cannot read: {error.strerror or error}") from error


def _diag_concepts(
    element: ET.Element,
    stack: list[ET.Element],
    section_id: str,
    chapter_number: int,
    context: list[tuple[str, dict[str, str]]],
    expand: bool,
) -> Iterator[Concept]:
    code = (element.findtext("name") or "").strip()
    parent_diag = next((e for e in reversed(stack) if e.tag == "diag"), None)
    parent_code = (parent_diag.findtext("name") or "").strip() if parent_diag is not None else None
    parent = f"{PREFIX}:{parent_code}" if parent_code else section_id
    inclusions = [note for note in _notes(element, "inclusionTerm") if note]
    metadata = {kind: _notes(element, kind) for kind in _NOTE_KINDS}
    metadata = {kind: notes for kind, notes in metadata.items() if notes}
    level = "category" if "." not in code else "code"
    metadata["level"] = [level]
    has_children = element.find("diag") is not None
    concept = Concept(
        id=f"{PREFIX}:{code}",
        source=PREFIX,
        name=(element.findtext("desc") or code).strip(),
        synonyms=[Synonym(term, "INCLUSION") for term in inclusions],
        semantic_types=[f"ICD-10-CM {level}"],
        group=chapter_group(chapter_number),
        parents=[parent],
        metadata=metadata,
    )
    yield concept
    if expand and not has_children:
        extensions = _seventh_characters(element, stack)
        for char, meaning in extensions.items():
            yield Concept(
                id=f"{PREFIX}:{_seventh_code(code, char)}",
                source=PREFIX,
                name=f"{concept.name}, {meaning}",
                semantic_types=["ICD-10-CM code"],
                group=concept.group,
                parents=[concept.id],
                metadata={"level": ["code"], "seventh_character": [char]},
                indexed=False,
            )
    # Children were yielded already (end events come innermost first); drop them
    # but keep this element's seventh-character definitions for its ancestors' use.
    for child in list(element):
        if child.tag == "diag":
            element.remove(child)


def _seventh_characters(element: ET.Element, stack: list[ET.Element]) -> dict[str, str]:
    """The nearest ``sevenChrDef`` on this diag or an enclosing one."""
    for candidate in [element, *reversed(stack)]:
        if candidate.tag != "diag":
            continue
        definition = candidate.find("sevenChrDef")
        if definition is not None:
            return {ext.get("char", ""): (ext.text or "").strip() for ext in definition.findall("extension")}
    return {}


def load_icd10cm(path: str | Path, expand_seventh_character: bool = True) -> list[Concept]:
    """All ICD-10-CM concepts of a tabular XML file."""
    concepts = list(parse_icd10cm(path, expand_seventh_character))
    if not concepts:
        raise SourceFormatError(path, "no ICD-10-CM chapters or codes found (is this the tabular XML?)")
    log.info("loaded %d ICD-10-CM concepts from %s", len(concepts), path)
    return concepts
