"""Dictionary and fuzzy mention detection on a small hand-built knowledge base."""

from __future__ import annotations

import pytest
import spacy

from clinlink.kb import Concept, KnowledgeBase, Synonym
from clinlink.ner.component import MentionDetector
from clinlink.ner.words import doc_words
from clinlink.ner.dictionary import ConceptFilter, MentionDictionary
from clinlink.ner.fuzzy import FuzzyMatcher, english_words
from clinlink.ner.matcher import find_matches
from clinlink.text.component import make_segmenter  # noqa: F401 - registers the factory


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase(
        [
            Concept("HP:0000118", "HP", "Phenotypic abnormality", group="DISO"),
            Concept("HP:0000001", "HP", "All", group="CONC"),
            Concept("HP:0002202", "HP", "Pleural effusion", [Synonym("Fluid around lungs", "EXACT")], group="DISO", parents=["HP:0000118"]),
            Concept("HP:0002090", "HP", "Pneumonia", group="DISO", parents=["HP:0000118"]),
            Concept("HP:0000252", "HP", "Microcephaly", group="DISO", parents=["HP:0000118"]),
            Concept("HP:0012032", "HP", "Lipoma", group="DISO", parents=["HP:0000118"]),
            Concept("HP:0001012", "HP", "Multiple lipomas", group="DISO", parents=["HP:0012032"]),
            Concept("HP:0000598", "HP", "Abnormality of the ear", group="DISO", parents=["HP:0000118"]),
            Concept("HP:0012823", "HP", "Severe", group="CONC", parents=["HP:0000001"]),
            Concept("ICD10CM:J90", "ICD10CM", "Pleural effusion, not elsewhere classified", [Synonym("Pleural effusion NOS", "INCLUSION")], group="DISO"),
        ]
    )


@pytest.fixture(scope="module")
def nlp(kb: KnowledgeBase):
    pipeline = spacy.blank("en")
    pipeline.add_pipe("clinlink_segmenter")
    return pipeline


def detect(nlp, kb, text, **filter_args):
    dictionary = MentionDictionary.from_kb(kb, ConceptFilter(**filter_args), prefer_sources=("HP", "ICD10CM"))
    fuzzy = FuzzyMatcher(dictionary)
    doc = nlp(text)
    found = []
    for sentence in doc.sents:
        words = doc_words(sentence)
        for match in find_matches(words, dictionary, fuzzy):
            span = doc[words[match.start].token : words[match.end - 1].token + 1]
            found.append((span.text, match.concept_ids[0], match.kind))
    return found


def test_inflection_case_and_word_order(nlp, kb):
    found = detect(nlp, kb, "Small PLEURAL EFFUSIONS. Effusion, pleural.")
    assert found == [("PLEURAL EFFUSIONS", "HP:0002202", "exact"), ("Effusion, pleural", "HP:0002202", "order")]


def test_longest_match_and_source_preference(nlp, kb):
    found = detect(nlp, kb, "Pleural effusion NOS was seen.")
    assert found == [("Pleural effusion NOS", "ICD10CM:J90", "exact")]
    assert detect(nlp, kb, "pleural effusion")[0][1] == "HP:0002202"


def test_adjective_fold_and_typo_recall(nlp, kb):
    found = detect(nlp, kb, "The child is microcephalic. Possible pnuemonia.")
    assert ("microcephalic", "HP:0000252", "exact") in found
    assert any(text == "pnuemonia" and cid == "HP:0002090" and kind == "fuzzy" for text, cid, kind in found)


def test_plural_prefers_multiple_concept(nlp, kb):
    assert detect(nlp, kb, "She has lipomas.") == [("lipomas", "HP:0001012", "exact")]
    assert detect(nlp, kb, "She has a lipoma.") == [("lipoma", "HP:0012032", "exact")]


def test_plain_language_variant_of_formal_name(nlp, kb):
    assert detect(nlp, kb, "ear anomalies were noted")[0][:2] == ("ear anomalies", "HP:0000598")
    assert detect(nlp, kb, "otic abnormality")[0][:2] == ("otic abnormality", "HP:0000598")


def test_filters_by_group_and_subtree(nlp, kb):
    assert detect(nlp, kb, "severe pneumonia", groups=("DISO",)) == [("pneumonia", "HP:0002090", "exact")]
    within = detect(nlp, kb, "pneumonia and pleural effusion NOS", within=("HP:0000118",))
    assert [cid for _, cid, _ in within] == ["HP:0002090", "HP:0002202"]


def test_no_match_on_function_word_windows(nlp, kb):
    assert detect(nlp, kb, "fluid and around the lungs") == []
    assert detect(nlp, kb, "") == []


def test_component_sets_entities_and_keeps_gold(nlp, kb, monkeypatch):
    import clinlink.ner.component as component

    dictionary = MentionDictionary.from_kb(kb, ConceptFilter(groups=("DISO",)), prefer_sources=("HP",))
    monkeypatch.setattr(component, "_matchers", lambda *args: (kb, dictionary, FuzzyMatcher(dictionary)))
    detector = MentionDetector(None, ConceptFilter(), [], [], None, None, True, 88.0, True)
    doc = nlp("Fluid around lungs. Pneumonia.")
    doc.ents = [spacy.tokens.Span(doc, 0, 3, label="GOLD")]
    doc = detector(doc)
    assert [(e.text, e.label_) for e in doc.ents] == [("Fluid around lungs", "GOLD"), ("Pneumonia", "DISO")]
    assert doc.ents[1]._.concept_id == "HP:0002090"


def test_fuzzy_multi_word_typo(nlp, kb):
    found = detect(nlp, kb, "Small plueral effusion.")
    assert ("plueral effusion", "HP:0002202", "fuzzy") in found


def test_fuzzy_window_needs_its_unknown_word_close_to_a_word_of_the_name(nlp):
    kb = KnowledgeBase(
        [
            Concept("HP:0000118", "HP", "Phenotypic abnormality", group="DISO"),
            Concept("HP:0011916", "HP", "Differential cyanosis", group="DISO", parents=["HP:0000118"]),
            Concept("HP:0031988", "HP", "Diagnostic delay", group="DISO", parents=["HP:0000118"]),
        ]
    )
    # "diagnosis" is near "diagnostic", so it anchors a window; "differential diagnosis" then scores high
    # against "differential cyanosis" as a whole, but "diagnosis" is unlike "cyanosis"
    assert detect(nlp, kb, "The differential diagnosis is broad.") == []
    assert detect(nlp, kb, "Differential cyanossis was seen.") == [("Differential cyanossis", "HP:0011916", "fuzzy")]


def test_an_english_word_is_not_read_as_a_typo_of_a_name(nlp):
    kb = KnowledgeBase(
        [
            Concept("HP:0000118", "HP", "Phenotypic abnormality", group="DISO"),
            Concept("HP:0040327", "HP", "Punding", group="DISO", parents=["HP:0000118"]),
            Concept("HP:0002018", "HP", "Nausea", group="DISO", parents=["HP:0000118"]),
        ]
    )
    dictionary = MentionDictionary.from_kb(kb, ConceptFilter())
    fuzzy = FuzzyMatcher(dictionary, max_edits=1, words=english_words())
    assert "pending" in english_words() and "nausia" not in english_words()
    doc = nlp("Labs are pending. Some nausia today.")
    found = [match.concept_ids[0] for sentence in doc.sents for match in find_matches(doc_words(sentence), dictionary, fuzzy)]
    assert found == ["HP:0002018"]  # "nausia" is a typo of Nausea; "pending" is a word, not Punding
    unguarded = FuzzyMatcher(dictionary, max_edits=1)
    assert [m.concept_ids[0] for s in doc.sents for m in find_matches(doc_words(s), dictionary, unguarded)] == ["HP:0040327", "HP:0002018"]


def test_no_name_is_read_inside_a_stop_phrase(nlp, kb):
    dictionary = MentionDictionary.from_kb(kb, prefer_sources=("HP",), stop_phrases=["pneumonia vaccine"])
    doc = nlp("The pneumonia vaccine was given. Pneumonia was seen.")
    found = [doc[words[m.start].token : words[m.end - 1].token + 1].text for s in doc.sents for words in [doc_words(s)] for m in find_matches(words, dictionary)]
    assert found == ["Pneumonia"]


def test_no_name_reads_across_a_semicolon(nlp, kb):
    assert detect(nlp, kb, "Effusion, pleural.") == [("Effusion, pleural", "HP:0002202", "order")]
    assert detect(nlp, kb, "Effusion; pleural rub was heard.") == []
