import spacy

import scispacy.abbreviation  # noqa: F401  (registers "abbreviation_detector")

import clinlink.linking.component  # noqa: F401  (registers the factory)
from clinlink.extensions import register_extensions


def make_nlp(tiny_kb, tiny_model_dir, **config):
    nlp = spacy.blank("en")
    settings = {"kb": str(tiny_kb.path), "encoder": str(tiny_model_dir), "nil_threshold": 0.0} | config
    nlp.add_pipe("clinlink_linker", config=settings)
    return nlp


def with_ents(nlp, text, phrases, label="PHENOTYPE"):
    doc = nlp.make_doc(text)
    spans = []
    for phrase in phrases:
        start = text.index(phrase)
        spans.append(doc.char_span(start, start + len(phrase), label=label))
    doc.ents = spans
    return doc


def test_links_gold_entities_and_sets_plain_attributes(tiny_kb, tiny_model_dir):
    nlp = make_nlp(tiny_kb, tiny_model_dir, k=3)
    doc = with_ents(nlp, "Chest x-ray shows an enlarged heart and pleural effusions.", ["enlarged heart", "pleural effusions"])
    doc = nlp.get_pipe("clinlink_linker")(doc)
    heart, effusion = doc.ents
    assert heart._.concept_id == "HP:0001640" and heart._.concept_name == "Cardiomegaly" and heart._.score == 1.0
    # per vocabulary: the linked code with its score, then cross-references (score None); no ICD-10-CM code
    # scores the code threshold for "enlarged heart" in this KB, so it has none
    assert heart._.codes == {"HPO": [["HP:0001640", "Cardiomegaly", 1.0]], "UMLS": [["C0018800", None, None]]}
    assert effusion._.concept_id in {"HP:0002202", "ICD10CM:J90"}
    assert isinstance(heart._.candidates, list) and heart._.candidates[0] == ["HP:0001640", "Cardiomegaly", 1.0]
    assert len(heart._.candidates) == 3


def test_pipe_filters_and_nil(tiny_kb, tiny_model_dir):
    nlp = make_nlp(tiny_kb, tiny_model_dir, sources=["HP"], nil_threshold=1.0)  # only exact names pass
    docs = [
        with_ents(nlp, "Pleural effusion noted.", ["Pleural effusion"]),
        with_ents(nlp, "Mild pleural efusion.", ["pleural efusion"]),
    ]
    exact, typo = list(nlp.get_pipe("clinlink_linker").pipe(docs, batch_size=1))
    assert exact.ents[0]._.concept_id == "HP:0002202"  # ICD10CM:J90 filtered out
    assert typo.ents[0]._.concept_id is None and typo.ents[0]._.candidates == []  # below the NIL threshold


def test_abbreviation_long_form_is_linked(tiny_kb, tiny_model_dir):
    nlp = make_nlp(tiny_kb, tiny_model_dir, sources=["HP"])
    nlp.add_pipe("abbreviation_detector", before="clinlink_linker")
    text = "He has high blood pressure (HBP). HBP is treated."
    doc = nlp.make_doc(text)
    doc = nlp.get_pipe("abbreviation_detector")(doc)
    second = text.rindex("HBP")
    doc.ents = [doc.char_span(second, second + 3, label="PHENOTYPE")]
    doc = nlp.get_pipe("clinlink_linker")(doc)
    assert doc.ents[0]._.concept_id == "HP:0000822" and doc.ents[0]._.score == 1.0  # exact long form
    without = make_nlp(tiny_kb, tiny_model_dir, sources=["HP"], use_abbreviations=False)
    assert without.get_pipe("clinlink_linker")(doc).ents[0]._.score < 1.0  # "HBP" itself is no KB name


def test_dictionary_concept_is_kept_unless_the_linker_is_sure(tiny_kb, tiny_model_dir):
    register_extensions()
    nlp = make_nlp(tiny_kb, tiny_model_dir, sources=["HP"])
    doc = with_ents(nlp, "Growth failure and fever.", ["Growth failure", "fever"])
    growth, fever = doc.ents
    growth._.concept_id = "HP:0004322"  # the detector's dictionary id, also the exact name match
    fever._.concept_id = "HP:0001250"  # a wrong preset: "fever" is an exact name of another concept
    doc = nlp.get_pipe("clinlink_linker")(doc)
    assert doc.ents[0]._.concept_id == "HP:0004322"
    assert doc.ents[1]._.concept_id == "HP:0001945"


def test_exact_detector_match_yields_only_to_an_exact_name(tiny_kb, tiny_model_dir):
    # the detector may match a variant the linker does not index ("ophthalmologic anomalies" ~ "Abnormality of
    # the eye"): its exact match stands against a closer-looking candidate, a fuzzy match does not
    register_extensions()
    nlp = make_nlp(tiny_kb, tiny_model_dir, sources=["HP"], override_margin=0.05)
    linked = {}
    for detector_score in (1.0, 0.9):
        doc = with_ents(nlp, "An enlarged heartt.", ["enlarged heartt"])
        doc.ents[0]._.concept_id, doc.ents[0]._.score = "HP:0001945", detector_score
        doc = nlp.get_pipe("clinlink_linker")(doc)
        assert doc.ents[0]._.candidates[0][0] == "HP:0001640"  # the linker's own first choice
        linked[detector_score] = doc.ents[0]._.concept_id
    assert linked == {1.0: "HP:0001945", 0.9: "HP:0001640"}


def test_linker_is_loaded_once_per_process(tiny_kb, tiny_model_dir):
    first = make_nlp(tiny_kb, tiny_model_dir).get_pipe("clinlink_linker").linker
    second = make_nlp(tiny_kb, tiny_model_dir, k=2).get_pipe("clinlink_linker").linker
    assert first is second


def test_threads_setting_caps_torch_openmp_and_blas(tiny_kb, tiny_model_dir):
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    torch_threads = torch.get_num_threads()
    with threadpool_limits(limits=2):  # restores every pool's limit on exit
        torch.set_num_threads(2)
        make_nlp(tiny_kb, tiny_model_dir, threads=1)
        pools = {(pool["internal_api"], pool["filepath"]): pool["num_threads"] for pool in threadpool_info()}
        assert any(api in ("openblas", "mkl", "blis") for api, _ in pools), pools  # numpy's BLAS at least
        assert set(pools.values()) == {1}, pools
        assert torch.get_num_threads() == 1
    torch.set_num_threads(torch_threads)


def test_each_vocabulary_is_linked_on_its_own_and_the_python_api_reproduces_it(tiny_kb, tiny_model_dir):
    from clinlink.linking.component import load_linker

    nlp = make_nlp(tiny_kb, tiny_model_dir, vocabularies=["ICD10CM", "HPO"])
    doc = with_ents(nlp, "High blood pressure and fluid around the lungs.", ["High blood pressure", "fluid around the lungs"])
    doc = nlp.get_pipe("clinlink_linker")(doc)
    pressure, fluid = doc.ents
    assert pressure._.concept_id == "HP:0000822"
    assert pressure._.codes["HPO"] == [["HP:0000822", "Hypertension", 1.0]]
    assert fluid._.codes["HPO"][0][0] == "HP:0002202"
    linker = load_linker(str(tiny_kb.path), str(tiny_model_dir))
    linked = linker.annotate(
        [e.text for e in doc.ents], None, k=5, vocabularies=["ICD10CM", "HPO"], nil_threshold=0.0,
        exact_shortcut="sparse",
    )
    assert [link.codes for link in linked] == [e._.codes for e in doc.ents]
    assert [link.concept.concept_id for link in linked] == [e._.concept_id for e in doc.ents]


def test_document_codes_are_ranked_deduplicated_and_leave_out_absent_family_hypothetical(tiny_kb, tiny_model_dir):
    nlp = make_nlp(tiny_kb, tiny_model_dir, vocabularies=["HPO"])
    text = "Fever. Pyrexia again. No seizure. Mother had renal failure. Cardiomegaly."
    doc = with_ents(nlp, text, ["Fever", "Pyrexia", "seizure", "renal failure", "Cardiomegaly"])
    doc.ents[2]._.assertion, doc.ents[3]._.assertion = "absent", "family"
    doc = nlp.get_pipe("clinlink_linker")(doc)
    codes = doc._.codes["HPO"]
    assert [entry["code"] for entry in codes] == ["HP:0001945", "HP:0001640"]  # fever twice ranks first
    assert codes[0]["mentions"] == [[0, 5, "Fever"], [7, 14, "Pyrexia"]]
    assert codes[0]["name"] == "Fever" and codes[0]["score"] == 1.0
