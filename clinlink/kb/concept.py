"""Domain objects of the knowledge base: a concept and its names."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Synonym kinds. OBO scopes keep their own names; other sources map onto these.
SYNONYM_KINDS = ("PREFERRED", "EXACT", "RELATED", "BROAD", "NARROW", "ABBREVIATION", "INCLUSION")


@dataclass(frozen=True, slots=True)
class Synonym:
    """One name of a concept, with its kind (EXACT, RELATED, INCLUSION, ...)."""

    name: str
    kind: str = "EXACT"

    def __reduce__(self):
        """Pickled as a constructor call on the field values: about half the load time of slot state."""
        return Synonym, (self.name, self.kind)


@dataclass(slots=True)
class Concept:
    """A concept of one source vocabulary.

    ``id`` is prefixed with the vocabulary (``HP:0002202``, ``ICD10CM:J90``,
    ``UMLS:C0032227``, ``SNOMEDCT:60046008``) so ids are unique across sources.
    """

    id: str
    source: str
    name: str
    synonyms: list[Synonym] = field(default_factory=list)
    semantic_types: list[str] = field(default_factory=list)
    group: str = ""
    definition: str | None = None
    xrefs: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    alt_ids: list[str] = field(default_factory=list)
    obsolete: bool = False
    replaced_by: str | None = None
    metadata: dict[str, list[str]] = field(default_factory=dict)
    indexed: bool = True

    def __reduce__(self):
        """Pickled as a constructor call on the field values, in order: the compiled KB (118k concepts)
        unpickles in half the time of the default slot state (0.22 against 0.45 s)."""
        return Concept, tuple(getattr(self, name) for name in self.__slots__)

    @property
    def names(self) -> list[str]:
        """Preferred name first, then the synonyms, without duplicates."""
        seen: dict[str, None] = {self.name: None}
        for synonym in self.synonyms:
            seen.setdefault(synonym.name, None)
        return list(seen)
