"""UMLS Metathesaurus loader: one concept per CUI from the RRF files of a ``META`` folder.

- ``MRCONSO.RRF`` (required): names and synonyms, filtered by language, source (SAB),
  term type (TTY) and suppressibility; each kept atom's code becomes a cross-reference
  (``SNOMEDCT_US:60046008``, ``ICD10CM:J90``, ``HP:0002202``), so a CUI can be reported
  in the codes of its source vocabularies.
- ``MRSTY.RRF``: semantic types (names and TUIs) and the UMLS semantic group.
- ``MRREL.RRF``: parents from PAR/CHD (or ``isa``/``inverse_isa``) rows of chosen SABs.
- ``MRDEF.RRF``: a definition.

Only the META folder is read; the optional/missing files are skipped with a note in the log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from clinlink.errors import SourceFormatError
from clinlink.kb.concept import Concept, Synonym
from clinlink.kb.loaders.delimited import check_on_error, rrf_rows
from clinlink.kb.semantic_groups import group_of_tuis

log = logging.getLogger(__name__)

PREFIX = "UMLS"
#: Field counts of the RRF files (each row ends with a '|' after the last field).
FIELDS = {"MRCONSO.RRF": 18, "MRSTY.RRF": 6, "MRREL.RRF": 16, "MRDEF.RRF": 8}
OPTIONAL = ("MRSTY.RRF", "MRREL.RRF", "MRDEF.RRF")
#: Term types that are abbreviations or acronyms.
ABBREVIATION_TTYS = frozenset({"AB", "ACR", "AA", "AM", "ABB"})
_PREFIXED_CODE = re.compile(r"^[A-Z][A-Za-z]*:\S+$")


# -- source interface ---------------------------------------------------------
def default_path() -> Path | None:
    """UMLS is licensed: there is no packaged default; set ``path`` to a ``META`` folder."""
    return None


def _meta_folder(path: Path) -> Path:
    if not path.exists():
        raise SourceFormatError(path, "UMLS META folder not found")
    if not path.is_dir():
        raise SourceFormatError(path, "expected the UMLS META folder (with MRCONSO.RRF), found a file")
    return path


def _rrf_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.exists():
            return candidate
    return None


def input_files(path: Path) -> list[Path]:
    """MRCONSO.RRF and whichever of MRSTY, MRREL and MRDEF are present."""
    folder = _meta_folder(Path(path))
    conso = _rrf_file(folder, "MRCONSO.RRF")
    if conso is None:
        raise SourceFormatError(folder / "MRCONSO.RRF", "file not found (is this a UMLS META folder?)")
    return [conso, *(f for name in OPTIONAL if (f := _rrf_file(folder, name)) is not None)]


def version(path: Path) -> str:
    """``umls.release.name`` of ``release.dat`` (in META or its parent), else the folder name."""
    folder = Path(path)
    for candidate in (folder / "release.dat", folder.parent / "release.dat"):
        if candidate.is_file():
            for line in candidate.read_text(encoding="utf-8", errors="replace").splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "umls.release.name" and value.strip():
                    return value.strip()
    return folder.parent.name if folder.name.upper() == "META" else folder.name


# -- parsing ------------------------------------------------------------------
@dataclass(slots=True)
class _Cui:
    """What the atoms of one CUI contribute, while MRCONSO is read."""

    name: str
    rank: tuple
    strings: dict[str, tuple[str, str]] = field(default_factory=dict)  # casefolded -> (string, kind)
    xrefs: dict[str, None] = field(default_factory=dict)


def code_xref(sab: str, code: str) -> str | None:
    """``SNOMEDCT_US`` + ``60046008`` -> ``SNOMEDCT_US:60046008``; codes that carry their own
    prefix (HPO's ``HP:0002202``, GO's ``GO:0008150``) are kept as they are."""
    if not code or code == "NOCODE" or sab == "MTH":
        return None
    return code if _PREFIXED_CODE.match(code) else f"{sab}:{code}"


def _read_mrconso(
    path: Path,
    languages: set[str],
    sabs: set[str] | None,
    exclude_ttys: set[str],
    suppress: set[str],
    sab_preference: list[str],
    xref_sabs: set[str] | None,
    on_error: str,
) -> dict[str, _Cui]:
    cuis: dict[str, _Cui] = {}
    preference = {sab: position for position, sab in enumerate(sab_preference)}
    for position, row in enumerate(rrf_rows(path, FIELDS["MRCONSO.RRF"], on_error)):
        cui, lat, ts, _, stt, _, ispref, _, _, _, _, sab, tty, code, string, _, suppressed, _ = row
        if lat not in languages or suppressed in suppress or tty in exclude_ttys:
            continue
        if sabs is not None and sab not in sabs:
            continue
        rank = (preference.get(sab, len(preference)), ts != "P", stt != "PF", ispref != "Y", position)
        entry = cuis.get(cui)
        if entry is None:
            entry = cuis[cui] = _Cui(string, rank)
        elif rank < entry.rank:
            entry.name, entry.rank = string, rank
        kind = "ABBREVIATION" if tty in ABBREVIATION_TTYS else "EXACT"
        entry.strings.setdefault(string.casefold(), (string, kind))
        if xref_sabs is None or sab in xref_sabs:
            xref = code_xref(sab, code)
            if xref is not None:
                entry.xrefs[xref] = None
    return cuis


def _read_mrsty(path: Path, cuis: dict[str, _Cui], on_error: str) -> dict[str, list[tuple[str, str]]]:
    types: dict[str, list[tuple[str, str]]] = {}
    for cui, tui, _, sty, _, _ in rrf_rows(path, FIELDS["MRSTY.RRF"], on_error):
        if cui in cuis:
            found = types.setdefault(cui, [])
            if (tui, sty) not in found:
                found.append((tui, sty))
    return types


def _read_mrrel(
    path: Path, cuis: dict[str, _Cui], hierarchy_sabs: set[str], suppress: set[str], on_error: str
) -> dict[str, dict[str, None]]:
    """Child CUI -> parent CUIs. REL (and RELA) state what CUI2 is to CUI1: ``CHD``/``isa``
    means CUI2 is a child of CUI1, ``PAR``/``inverse_isa`` that CUI2 is its parent."""
    parents: dict[str, dict[str, None]] = {}
    for row in rrf_rows(path, FIELDS["MRREL.RRF"], on_error):
        cui1, rel, cui2, rela, sab, suppressed = row[0], row[3], row[4], row[7], row[10], row[14]
        if sab not in hierarchy_sabs or suppressed in suppress or cui1 == cui2:
            continue
        if rel == "PAR" or (rel not in ("CHD", "PAR") and rela == "inverse_isa"):
            child, parent = cui1, cui2
        elif rel == "CHD" or rela == "isa":
            child, parent = cui2, cui1
        else:
            continue
        if child in cuis and parent in cuis:
            parents.setdefault(child, {})[parent] = None
    return parents


def _read_mrdef(
    path: Path, cuis: dict[str, _Cui], definition_sabs: list[str], suppress: set[str], on_error: str
) -> dict[str, str]:
    preference = {sab: position for position, sab in enumerate(definition_sabs)}
    best: dict[str, tuple[int, str]] = {}
    for cui, _, _, _, sab, definition, suppressed, _ in rrf_rows(path, FIELDS["MRDEF.RRF"], on_error):
        if cui not in cuis or suppressed in suppress or not definition:
            continue
        rank = preference.get(sab, len(preference))
        if cui not in best or rank < best[cui][0]:
            best[cui] = (rank, definition)
    return {cui: definition for cui, (_, definition) in best.items()}


def _as_set(values: Iterable[str] | str | None) -> set[str] | None:
    if values is None:
        return None
    return {values} if isinstance(values, str) else {str(v) for v in values}


def load(
    path: Path,
    languages: Iterable[str] = ("ENG",),
    sabs: Iterable[str] | None = None,
    exclude_ttys: Iterable[str] = (),
    suppress: Iterable[str] = ("O", "E", "Y"),
    sab_preference: Iterable[str] = (),
    hierarchy_sabs: Iterable[str] = ("SNOMEDCT_US",),
    xref_sabs: Iterable[str] | None = None,
    definition_sabs: Iterable[str] = (),
    on_error: str = "raise",
) -> list[Concept]:
    """One :class:`Concept` (``UMLS:C0032227``) per CUI with at least one kept atom.

    Options: ``languages`` (LAT values), ``sabs`` (sources to keep, default all),
    ``exclude_ttys``, ``suppress`` (SUPPRESS flags dropped), ``sab_preference`` (SABs
    whose atom names the concept, in order; otherwise the TS=P, STT=PF, ISPREF=Y atom),
    ``hierarchy_sabs`` (SABs whose MRREL rows give parents), ``xref_sabs`` (SABs whose
    codes become xrefs, default all), ``definition_sabs`` (preferred MRDEF sources) and
    ``on_error`` (``raise`` or ``skip`` malformed rows).
    """
    check_on_error(on_error)
    files = {f.name.removesuffix(".gz"): f for f in input_files(Path(path))}
    suppressed = _as_set(suppress) or set()
    cuis = _read_mrconso(
        files["MRCONSO.RRF"],
        languages=_as_set(languages) or set(),
        sabs=_as_set(sabs),
        exclude_ttys=_as_set(exclude_ttys) or set(),
        suppress=suppressed,
        sab_preference=[str(s) for s in sab_preference],
        xref_sabs=_as_set(xref_sabs),
        on_error=on_error,
    )
    if not cuis:
        raise SourceFormatError(files["MRCONSO.RRF"], "no atom passed the language/SAB/TTY/suppress filters")
    types = _read_mrsty(files["MRSTY.RRF"], cuis, on_error) if "MRSTY.RRF" in files else {}
    parents = (
        _read_mrrel(files["MRREL.RRF"], cuis, _as_set(hierarchy_sabs) or set(), suppressed, on_error)
        if "MRREL.RRF" in files
        else {}
    )
    definitions = (
        _read_mrdef(files["MRDEF.RRF"], cuis, [str(s) for s in definition_sabs], suppressed, on_error)
        if "MRDEF.RRF" in files
        else {}
    )
    for name in OPTIONAL:
        if name not in files:
            log.info("%s: no %s, skipped", path, name)
    concepts = []
    for cui, entry in cuis.items():
        cui_types = types.get(cui, [])
        name_key = entry.name.casefold()
        concepts.append(
            Concept(
                id=f"{PREFIX}:{cui}",
                source=PREFIX,
                name=entry.name,
                synonyms=[Synonym(s, kind) for key, (s, kind) in entry.strings.items() if key != name_key],
                semantic_types=[sty for _, sty in cui_types] + [tui for tui, _ in cui_types],
                group=group_of_tuis(tui for tui, _ in cui_types),
                definition=definitions.get(cui),
                xrefs=list(entry.xrefs),
                parents=[f"{PREFIX}:{parent}" for parent in parents.get(cui, ())],
            )
        )
    log.info("loaded %d UMLS concepts from %s", len(concepts), path)
    return concepts
