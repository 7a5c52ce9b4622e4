"""OMOP CDM v5.4 NOTE_NLP rows, concept ids from an Athena vocabulary export, and the database table.

Conventions (OHDSI NOTE_NLP): ``term_exists`` is ``N`` for a mention the patient does not have
(absent, family, hypothetical, conditional and possible: clinlink's "possible" includes
rule-out and cannot-exclude wording), else ``Y``; ``term_temporal`` is ``past`` for a
historical mention, else ``present``; ``term_modifiers`` lists the modifiers
(``negated=true,subject=family,certainty=possible,...``) and the linked concept's source code
(``source=ICD10CM:I50.23``). ``note_nlp_source_concept_id`` is the OMOP concept of that source
code, ``note_nlp_concept_id`` the standard concept (the code's own when standard, else its
"Maps to" target when CONCEPT_RELATIONSHIP.csv is given); both are 0 without a vocabulary, as
the conventions say. ``section_concept_id`` is the LOINC section concept of the mention's section.

``note_id`` is the note id when it is an integer (annotate an export of NOTE with
``--id-col note_id`` so rows join NOTE); any other id gets a stable 63-bit number (SHA-256).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from clinlink.errors import ClinlinkError, SourceFormatError
from clinlink.io.records import code_strings

NOTE_NLP_COLUMNS = (
    "note_nlp_id", "note_id", "section_concept_id", "snippet", "offset", "lexical_variant",
    "note_nlp_concept_id", "note_nlp_source_concept_id", "nlp_system", "nlp_date", "nlp_datetime",
    "term_exists", "term_temporal", "term_modifiers",
)
TABLE_NAME = "note_nlp"
SNIPPET_CHARS = 250
# clinlink vocabulary names -> OMOP vocabulary_id
OMOP_VOCABULARIES = {"ICD10CM": "ICD10CM", "SNOMEDCT": "SNOMED", "HPO": "HPO"}
# Section name (clinlink/text/sections.yaml) -> LOINC code of the document section.
SECTION_LOINC = {
    "chief_complaint": "10154-3", "history_of_present_illness": "10164-2", "past_medical_history": "11348-0",
    "past_surgical_history": "47519-4", "family_history": "10157-6", "social_history": "29762-2",
    "medications": "10160-0", "allergies": "48765-2", "review_of_systems": "10187-3", "physical_exam": "29545-1",
    "labs": "30954-2", "findings": "59776-5", "impression": "19005-8", "assessment_and_plan": "51847-2",
    "indication": "18785-6", "comparison": "18834-2", "technique": "55111-9", "hospital_course": "8648-8",
}
NOT_EXISTING = {"absent", "family", "hypothetical", "conditional", "possible"}
ROWS_PER_SHARD = 10_000_000  # file output: note_nlp_id = shard number * this + row


@dataclass
class OmopVocabulary:
    """(OMOP vocabulary_id, concept_code) -> concept_id, standard flags and "Maps to" targets."""

    concepts: dict[tuple[str, str], int] = field(default_factory=dict)
    standard: set[int] = field(default_factory=set)
    maps_to: dict[int, int] = field(default_factory=dict)

    def source_and_standard(self, codes: list[tuple[str, str]]) -> tuple[int, int]:
        """The concept of the first code found, and the first standard concept reached from the codes."""
        source = standard = 0
        for vocabulary, code in codes:
            concept_id = self.concepts.get((OMOP_VOCABULARIES.get(vocabulary, vocabulary), code), 0)
            if not concept_id:
                continue
            source = source or concept_id
            target = concept_id if concept_id in self.standard else self.maps_to.get(concept_id, 0)
            if target:
                standard = target
                break
        return source, standard


@lru_cache(maxsize=4)
def load_vocabulary(directory: str | None) -> OmopVocabulary:
    """Reads CONCEPT.csv (and CONCEPT_RELATIONSHIP.csv when present) of an Athena export (tab-separated)."""
    if directory is None:
        return OmopVocabulary()
    import pyarrow as pa
    import pyarrow.compute as pc

    folder = Path(directory)
    concept_file = folder / "CONCEPT.csv"
    if not concept_file.is_file():
        raise SourceFormatError(concept_file, "no such file (--omop-vocab needs an Athena export with CONCEPT.csv)")
    wanted = [*OMOP_VOCABULARIES.values(), "LOINC"]
    columns = ["concept_id", "vocabulary_id", "standard_concept", "concept_code"]
    table = _read_tsv(concept_file, columns, {"concept_id": pa.int64()})
    table = table.filter(pc.is_in(table["vocabulary_id"], pa.array(wanted)))
    vocabulary = OmopVocabulary()
    for concept_id, vocabulary_id, standard, code in zip(*(table[c].to_pylist() for c in columns)):
        vocabulary.concepts[(vocabulary_id, code)] = concept_id
        if standard == "S":
            vocabulary.standard.add(concept_id)
    relationship_file = folder / "CONCEPT_RELATIONSHIP.csv"
    if relationship_file.is_file():
        names = ["concept_id_1", "concept_id_2", "relationship_id"]
        links = _read_tsv(relationship_file, names, {"concept_id_1": pa.int64(), "concept_id_2": pa.int64()})
        links = links.filter(pc.and_(pc.equal(links["relationship_id"], "Maps to"), pc.is_in(links["concept_id_1"], table["concept_id"])))
        for source, target in zip(links["concept_id_1"].to_pylist(), links["concept_id_2"].to_pylist()):
            if source != target:
                vocabulary.maps_to.setdefault(source, target)
    return vocabulary


def _read_tsv(path: Path, columns: list[str], types: dict[str, Any]):
    from pyarrow import csv

    try:
        return csv.read_csv(
            path,
            parse_options=csv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=csv.ConvertOptions(include_columns=columns, column_types=types, strings_can_be_null=False),
        )
    except (OSError, ValueError) as error:  # pyarrow.ArrowInvalid is a ValueError
        raise SourceFormatError(path, f"not an Athena vocabulary file: {str(error).splitlines()[0]}") from None


def omop_note_id(note_id: str) -> int:
    """The note id as NOTE.note_id: itself when an integer, else a stable positive 63-bit number."""
    if re.fullmatch(r"\d{1,18}", note_id):
        return int(note_id)
    return int.from_bytes(hashlib.sha256(note_id.encode("utf-8")).digest()[:8], "big") >> 1


def note_nlp_rows(record: dict[str, Any], vocabulary: OmopVocabulary, nlp_system: str, when: dt.datetime) -> list[dict[str, Any]]:
    """The NOTE_NLP rows of one annotation record (note_nlp_id left None: the writer numbers them)."""
    note_id = omop_note_id(str(record["id"]))
    text = record["text"]
    rows = []
    for entity in record["entities"]:
        assertion = entity["assertion"] or "present"
        codes = _codes(entity)
        source, standard = vocabulary.source_and_standard(codes)
        section = entity.get("section")
        section_code = SECTION_LOINC.get(section or "")
        rows.append({
            "note_nlp_id": None,
            "note_id": note_id,
            "section_concept_id": vocabulary.concepts.get(("LOINC", section_code), 0) if section_code else 0,
            "snippet": _snippet(text, entity["start"], entity["end"]),
            "offset": str(entity["start"]),
            "lexical_variant": entity["text"][:SNIPPET_CHARS],
            "note_nlp_concept_id": standard,
            "note_nlp_source_concept_id": source,
            "nlp_system": nlp_system[:250],
            "nlp_date": when.date(),
            "nlp_datetime": when,
            "term_exists": "N" if assertion in NOT_EXISTING else "Y",
            "term_temporal": "past" if entity["historical"] else "present",
            "term_modifiers": term_modifiers(entity)[:2000],
        })
    return rows


def term_modifiers(entity: dict[str, Any]) -> str:
    assertion = entity["assertion"] or "present"
    parts = [
        f"negated={'true' if assertion == 'absent' else 'false'}",
        f"subject={'family' if assertion == 'family' else 'patient'}",
        f"certainty={'possible' if assertion == 'possible' else 'certain'}",
    ]
    if assertion in ("conditional", "hypothetical"):
        parts.append(f"{assertion}=true")
    if entity["historical"]:
        parts.append("historical=true")
    if entity.get("resolved"):
        parts.append("resolved=true")
    if entity.get("section"):
        parts.append(f"section={entity['section']}")
    if entity.get("concept_id"):
        parts.append(f"source={entity['concept_id']}")
    return ",".join(parts)


def _codes(entity: dict[str, Any]) -> list[tuple[str, str]]:
    """(vocabulary, code) of the linked concept: its own code first, then its cross-references."""
    found: list[tuple[str, str]] = []
    concept_id = entity.get("concept_id") or ""
    prefix, _, code = concept_id.partition(":")
    if prefix == "HP":
        found.append(("HPO", concept_id))
    elif prefix in OMOP_VOCABULARIES and code:
        found.append((prefix, code))
    for vocabulary in OMOP_VOCABULARIES:
        for code in code_strings((entity.get("codes") or {}).get(vocabulary)):
            if (vocabulary, str(code)) not in found:
                found.append((vocabulary, str(code)))
    return found


def _snippet(text: str, start: int, end: int) -> str:
    """The mention with context, at most 250 characters, on one line."""
    room = max(0, SNIPPET_CHARS - (end - start))
    left = max(0, start - room // 2)
    return " ".join(text[left : left + SNIPPET_CHARS].split())[:SNIPPET_CHARS]


# -- database ---------------------------------------------------------------------------
def engine_url(url: str):
    """A SQLAlchemy URL; plain ``postgresql://`` uses psycopg 3."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ClinlinkError(f"--db {url!r}: not a database URL (e.g. sqlite:///notes.db, postgresql://user@host/db)") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if not parsed.drivername.startswith(("sqlite", "postgresql")):
        raise ClinlinkError(f"--db {parsed.render_as_string(hide_password=True)}: only SQLite and PostgreSQL are supported")
    return parsed


def note_nlp_table(metadata):
    from sqlalchemy import BigInteger, Column, Date, DateTime, Integer, String, Table

    return Table(
        TABLE_NAME, metadata,
        Column("note_nlp_id", BigInteger, primary_key=True, autoincrement=False),
        Column("note_id", BigInteger, nullable=False, index=True),
        Column("section_concept_id", Integer),
        Column("snippet", String(250)),
        Column("offset", String(50)),
        Column("lexical_variant", String(250), nullable=False),
        Column("note_nlp_concept_id", Integer),
        Column("note_nlp_source_concept_id", Integer),
        Column("nlp_system", String(250)),
        Column("nlp_date", Date, nullable=False),
        Column("nlp_datetime", DateTime),
        Column("term_exists", String(1)),
        Column("term_temporal", String(50)),
        Column("term_modifiers", String(2000)),
    )


class NoteNlpDatabase:
    """The NOTE_NLP table behind a SQLAlchemy URL (created if absent)."""

    def __init__(self, url: str):
        from sqlalchemy import MetaData

        self.url = engine_url(url)
        self.table = note_nlp_table(MetaData())
        self._engine = None
        self._pid = -1

    @property
    def engine(self):
        if self._engine is None or self._pid != os.getpid():  # a forked worker opens its own connections
            from sqlalchemy import create_engine

            connect_args = {"timeout": 120} if self.url.drivername.startswith("sqlite") else {}
            self._engine = create_engine(self.url, connect_args=connect_args)
            self._pid = os.getpid()
        return self._engine

    def create(self) -> None:
        """Creates the table if absent; a database that cannot be reached is a one-line error."""
        with database_errors(self.url):
            self.table.metadata.create_all(self.engine, checkfirst=True)

    def replace_notes(self, note_ids: list[int], nlp_system: str, rows: list[dict[str, Any]]) -> None:
        """In one transaction: removes what ``nlp_system`` wrote for these notes before (a resumed or repeated
        run), then inserts ``rows`` numbered after the table's highest note_nlp_id."""
        from sqlalchemy import func, select, text

        table = self.table
        with database_errors(self.url), self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"LOCK TABLE {TABLE_NAME} IN SHARE ROW EXCLUSIVE MODE"))
            for start in range(0, len(note_ids), 500):
                chunk = note_ids[start : start + 500]
                connection.execute(table.delete().where(table.c.note_id.in_(chunk), table.c.nlp_system == nlp_system))
            highest = connection.execute(select(func.max(table.c.note_nlp_id))).scalar() or 0
            for number, row in enumerate(rows, start=highest + 1):
                row["note_nlp_id"] = number
            if rows:
                connection.execute(table.insert(), rows)


@contextmanager
def database_errors(url) -> Iterator[None]:
    """A database error becomes one line naming the database (password hidden)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise ClinlinkError(f"--db {url.render_as_string(hide_password=True)}: {reason}") from None
