"""Synonym pairs: the 50-pair cap, held-out concepts and sources."""

from __future__ import annotations

from clinlink.kb import Concept, KnowledgeBase, Synonym
from clinlink.training.pairs import synonym_pairs
from clinlink.training.splits import is_held_out

HELD_OUT = "HP:9900024"


def _concept(concept_id: str, names: list[str], source: str = "HP") -> Concept:
    return Concept(id=concept_id, source=source, name=names[0], synonyms=[Synonym(n) for n in names[1:]])


def _kb() -> KnowledgeBase:
    many = [f"variant name {i}" for i in range(14)]  # 91 possible pairs
    return KnowledgeBase(
        [
            _concept("HP:9900001", many),
            _concept("HP:9900002", ["Big heart", "Heart enlargement", "big heart", "Cardiac enlargement"]),
            _concept("HP:9900003", ["Lonely name"]),
            _concept(HELD_OUT, ["Blue lips", "Lip cyanosis"]),
            _concept("ICD10CM:Z00", ["Code title", "Inclusion term"], source="ICD10CM"),
        ]
    )


def test_the_fixture_id_is_in_the_held_out_split():
    assert is_held_out(HELD_OUT) and not is_held_out("HP:9900001")


def test_pairs_cap_at_50_per_concept_and_stay_within_the_concept():
    pairs = synonym_pairs(_kb(), ["HP"], max_per_concept=50, seed=1)
    many = [p for p in pairs if p.concept_id == "HP:9900001"]
    assert len(many) == 50
    assert len({frozenset((p.first, p.second)) for p in many}) == 50
    assert all(p.first.startswith("variant name") and p.second.startswith("variant name") for p in many)


def test_held_out_concepts_single_names_and_case_duplicates_give_no_pairs():
    pairs = synonym_pairs(_kb(), ["HP"])
    assert {p.concept_id for p in pairs} == {"HP:9900001", "HP:9900002"}
    heart = {frozenset((p.first, p.second)) for p in pairs if p.concept_id == "HP:9900002"}
    assert len(heart) == 3  # "big heart" is the same name as "Big heart"
    assert all(p.first.lower() != p.second.lower() for p in pairs)


def test_sources_select_vocabularies_and_the_seed_fixes_the_order():
    assert {p.concept_id for p in synonym_pairs(_kb(), ["ICD10CM"])} == {"ICD10CM:Z00"}
    assert synonym_pairs(_kb(), ["HP", "ICD10CM"], seed=5) == synonym_pairs(_kb(), ["hp", "icd10cm"], seed=5)
    assert synonym_pairs(_kb(), ["HP"], seed=5) != synonym_pairs(_kb(), ["HP"], seed=6)
