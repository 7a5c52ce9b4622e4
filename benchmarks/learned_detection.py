"""Learned HPO mention detection beside the dictionary, each corpus apart, settings chosen leave-one-corpus-out.

Two recipes that need no annotated text, each added to the ``phenotype`` pipeline's dictionary mentions:

* **n-gram linking** (PhenoTagger's idea with the bi-encoder as its scorer): every 1-4-word n-gram of a sentence
  outside the dictionary's mentions (no punctuation, no stop word at either end) is linked within HP:0000118,
  and kept when it passes a test; overlapping kept n-grams go to the better one. The test is chosen on one
  corpus and scored on the other: a linker score threshold, or a logistic classifier over the link's features
  (score, margin over the second candidate, length, exact name, words shared with the matched name, retrieved
  by the sparse index too).
* **a CNN span tagger** trained on the dictionary's mentions over unlabeled case reports (distant supervision:
  spaCy's ``ner`` with a hash-embedding CNN, each sentence also seen with its mentions replaced by random HPO
  names; ``--train-tagger DIR`` builds it from CodiEsp's unlabeled and train texts in about 12 minutes on one
  core, ``--tagger DIR`` scores a built one); the spans it adds (the dictionary's stay: spaCy's ``ner`` keeps
  preset entities) are linked by the pipeline's linker and kept above a link score chosen on the other corpus.

Prints document P / R / F1 per corpus (the rows' baselines in the same run) and writes
benchmarks/results/learned_detection.json.

    python benchmarks/learned_detection.py [--train-tagger DIR | --tagger DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from spacy.lang.en.stop_words import STOP_WORDS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hpo_data import GoldDoc, read_hpo_corpora  # noqa: E402
from per_corpus import prf  # noqa: E402

import clinlink  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CODIESP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "coding" / "codiesp_en"
SUBTREE = "HP:0000118"
CORPORA = ("GSC+", "GeneReviews")
WORD = re.compile(r"^[A-Za-z][A-Za-z-]*$")
LETTERS = re.compile(r"[a-z]+")
MAX_WORDS = 4
THRESHOLDS = [round(t, 2) for t in np.arange(0.80, 1.001, 0.025)]
PROBABILITIES = [round(p, 2) for p in np.arange(0.2, 0.951, 0.05)]


def ngrams(doc) -> list[tuple[int, int]]:
    """Token ranges of the n-grams outside the doc's mentions (see the module docstring)."""
    taken = {i for ent in doc.ents for i in range(ent.start, ent.end)}
    found = []
    for sentence in doc.sents:
        for first in range(sentence.start, sentence.end):
            for last in range(first, min(first + MAX_WORDS, sentence.end)):
                token = doc[last]
                if last in taken or not WORD.match(token.text):
                    break
                if doc[first].lower_ in STOP_WORDS or token.lower_ in STOP_WORDS or (first == last and len(token) < 5):
                    continue
                found.append((first, last + 1))
    return found


def features(link: dict) -> list[float]:
    """The classifier's view of one linked n-gram."""
    stems = {word[:5] for word in LETTERS.findall(link["text"].lower())}
    name_stems = {word[:5] for word in LETTERS.findall(link["matched_name"].lower())}
    return [
        link["score"], link["score"] - link["second"], link["end"] - link["start"], float(link["score"] >= 0.999),
        len(stems & name_stems) / max(len(stems), 1), len(name_stems - stems), float("sparse" in link["retrieved_by"]),
    ]


def linked_ngrams(nlp, docs: list[GoldDoc]) -> list[dict]:
    """Per document: its dictionary concepts, gold concepts and every linked n-gram (with whether it is right)."""
    linker = nlp.get_pipe("linker").linker
    resolve = _resolver(nlp)
    rows = []
    for gold_doc in docs:
        doc = nlp(gold_doc.text)
        ranges = ngrams(doc)
        links = linker.link([doc[a:b].text for a, b in ranges], k=2, within=SUBTREE, nil_threshold=0.0) if ranges else []
        found = []
        for (start, end), candidates in zip(ranges, links):
            if not candidates:
                continue
            top, span = candidates[0], doc[start:end]
            right = any(
                m.start < span.end_char and span.start_char < m.end and resolve(m.concept_id) == top.concept_id for m in gold_doc.mentions
            )
            found.append({
                "start": start, "end": end, "text": span.text, "concept_id": top.concept_id, "score": float(top.score),
                "second": float(candidates[1].score) if len(candidates) > 1 else 0.0, "matched_name": top.matched_name,
                "retrieved_by": top.retrieved_by, "right": right,
            })
        rows.append({
            "corpus": gold_doc.corpus, "base": sorted({resolve(e._.concept_id) for e in doc.ents if e._.concept_id}),
            "gold": sorted({resolve(m.concept_id) for m in gold_doc.mentions}), "ngrams": found,
        })
    return rows


def kept(ngram_links: list[dict], weights: list[float]) -> set[str]:
    """Concepts of the n-grams with weight >= 0 (weights: the test's margin per n-gram), overlaps to the best."""
    taken: set[int] = set()
    concepts = set()
    for weight, link in sorted(zip(weights, ngram_links), key=lambda pair: -pair[0]):
        tokens = set(range(link["start"], link["end"]))
        if weight < 0 or tokens & taken:
            continue
        taken |= tokens
        concepts.add(link["concept_id"])
    return concepts


def document_scores(rows: list[dict], corpus: str, weigh) -> dict[str, float]:
    tp = n_pred = n_gold = 0
    for row in (r for r in rows if r["corpus"] == corpus):
        predicted = set(row["base"]) | (kept(row["ngrams"], weigh(row["ngrams"])) if row["ngrams"] else set())
        gold = set(row["gold"])
        tp, n_pred, n_gold = tp + len(predicted & gold), n_pred + len(predicted), n_gold + len(gold)
    p, r, f1 = prf(tp, n_pred, n_gold)
    return {"p": p, "r": r, "f1": f1}


def by_threshold(threshold: float):
    return lambda links: [link["score"] - threshold for link in links]


def by_classifier(model: LogisticRegression, probability: float):
    return lambda links: list(model.predict_proba(np.array([features(link) for link in links]))[:, 1] - probability)


def leave_one_out(rows: list[dict], added: str, classifier: bool = True) -> dict[str, dict]:
    """For each corpus, the threshold (and the classifier) chosen (and fitted) on the other one, scored on it;
    ``added`` names what the rows add to the dictionary's mentions."""
    results: dict[str, dict] = {f"+ {added}, all linked": {}, f"+ {added}, linker score threshold": {}}
    for test in CORPORA:
        train = next(c for c in CORPORA if c != test)
        results[f"+ {added}, all linked"][test] = document_scores(rows, test, lambda links: [0.0] * len(links))
        threshold = max(THRESHOLDS, key=lambda t: document_scores(rows, train, by_threshold(t))["f1"])
        results[f"+ {added}, linker score threshold"][test] = document_scores(rows, test, by_threshold(threshold)) | {"chosen": threshold}
        if not classifier:
            continue
        links = [link for row in rows if row["corpus"] == train for link in row["ngrams"]]
        model = LogisticRegression(max_iter=1000).fit(np.array([features(l) for l in links]), np.array([l["right"] for l in links]))
        probability = max(PROBABILITIES, key=lambda p: document_scores(rows, train, by_classifier(model, p))["f1"])
        results.setdefault(f"+ {added}, classifier", {})[test] = document_scores(rows, test, by_classifier(model, probability)) | {"chosen": probability}
    return results


def build_tagger(out: Path, epochs: int = 3) -> None:
    """Distant supervision: the dictionary's mentions over CodiEsp unlabeled + train texts train spaCy's ``ner``;
    each sentence with mentions is seen a second time with every mention replaced by a random HP:0000118 name,
    so the tagger learns the slots findings fill, not only the dictionary's words."""
    import spacy
    from spacy.tokens import Doc, Span
    from spacy.training import Example
    from spacy.util import compounding, minibatch

    from clinlink.kb import load_kb

    if not CODIESP.exists():
        raise SystemExit(f"skipped: {CODIESP} not found")
    rng = random.Random(0)
    kb = load_kb()
    names = [n for c in sorted(kb.descendants(SUBTREE) | {SUBTREE}) for n in kb.names(c) if len(n.split()) <= 5 and "(" not in n]
    detector = clinlink.load("phenotype", exclude=("linker", "context"))
    texts = [p.read_text(encoding="utf-8") for folder in ("unlabeled", "train") for p in sorted((CODIESP / folder).glob("*.txt"))]
    tagger = spacy.blank("en")
    ner = tagger.add_pipe("ner", config={"model": {
        "@architectures": "spacy.TransitionBasedParser.v2", "state_type": "ner", "extra_state_tokens": False,
        "hidden_width": 64, "maxout_pieces": 2, "use_upper": True, "nO": None,
        "tok2vec": {"@architectures": "spacy.HashEmbedCNN.v2", "pretrained_vectors": None, "width": 96, "depth": 4,
                    "embed_size": 5000, "window_size": 1, "maxout_pieces": 3, "subword_features": True},
    }})
    ner.add_label("FINDING")

    def example(words: list[str], spaces: list[bool], mentions: list[tuple[int, int]]) -> Example:
        reference = Doc(tagger.vocab, words=words, spaces=spaces)
        reference.ents = [Span(reference, a, b, label="FINDING") for a, b in mentions]
        return Example(Doc(tagger.vocab, words=words, spaces=spaces), reference)

    examples = []
    for doc in detector.pipe(texts, batch_size=32):
        for sentence in doc.sents:
            tokens = list(sentence)
            mentions = [(e.start - sentence.start, e.end - sentence.start) for e in sentence.ents]
            examples.append(example([t.text for t in tokens], [bool(t.whitespace_) for t in tokens], mentions))
            if not mentions:
                continue
            words, spaces, replaced, at = [], [], [], 0
            for start, end in mentions:
                words += [t.text for t in tokens[at:start]]
                spaces += [bool(t.whitespace_) for t in tokens[at:start]]
                name = rng.choice(names)
                name_tokens = list(tagger.make_doc(name if start == 0 else name[0].lower() + name[1:]))
                replaced.append((len(words), len(words) + len(name_tokens)))
                words += [t.text for t in name_tokens]
                spaces += [bool(t.whitespace_) for t in name_tokens[:-1]] + [bool(tokens[end - 1].whitespace_)]
                at = end
            words += [t.text for t in tokens[at:]]
            spaces += [bool(t.whitespace_) for t in tokens[at:]]
            examples.append(example(words, spaces, replaced))
    rng.shuffle(examples)
    held, train = examples[:1500], examples[1500:]
    optimizer = tagger.initialize(lambda: train[:2000])
    for epoch in range(epochs):
        rng.shuffle(train)
        losses: dict[str, float] = {}
        for batch in minibatch(train, size=compounding(8.0, 64.0, 1.05)):
            tagger.update(batch, sgd=optimizer, drop=0.2, losses=losses)
        scores = tagger.evaluate(held)
        print(f"epoch {epoch}: agreement with the (augmented) silver spans on held-out sentences P {scores['ents_p']:.3f} R {scores['ents_r']:.3f}")
    tagger.to_disk(out)


def tagged_spans(docs: list[GoldDoc], tagger_dir: Path) -> list[dict]:
    """Rows as :func:`linked_ngrams` gives them, the tagger's linked spans beyond the dictionary's in place of n-grams."""
    import spacy

    nlp = clinlink.load("phenotype")
    nlp.add_pipe("ner", name="learned", source=spacy.load(tagger_dir), after="ner")
    resolve = _resolver(nlp)
    rows = []
    for gold_doc in docs:
        doc = nlp(gold_doc.text)
        found = [
            {"start": e.start, "end": e.end, "text": e.text, "concept_id": resolve(e._.concept_id), "score": float(e._.score)}
            for e in doc.ents if e.label_ == "FINDING" and e._.concept_id
        ]
        rows.append({
            "corpus": gold_doc.corpus, "base": sorted({resolve(e._.concept_id) for e in doc.ents if e._.concept_id and e.label_ != "FINDING"}),
            "gold": sorted({resolve(m.concept_id) for m in gold_doc.mentions}), "ngrams": found,
        })
    return rows


def _resolver(nlp):
    """A concept id as the KB's current id (alternative ids resolved, as hpo_ner.py scores them)."""
    kb = nlp.get_pipe("linker").linker.kb
    return lambda concept_id: kb.resolve(concept_id) or concept_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-tagger", type=Path, help="build the CNN tagger into this folder, then score it")
    parser.add_argument("--tagger", type=Path, help="score the CNN tagger in this folder")
    args = parser.parse_args()
    docs = read_hpo_corpora()
    rows = linked_ngrams(clinlink.load("phenotype"), docs)
    results = {"dictionary + linker (phenotype)": {c: document_scores(rows, c, lambda links: [-1.0] * len(links)) for c in CORPORA}}
    results |= leave_one_out(rows, "n-grams")
    print(f"\nn-grams linked: {sum(len(r['ngrams']) for r in rows)} over {len(rows)} documents")
    if args.train_tagger:
        build_tagger(args.train_tagger)
    if args.train_tagger or args.tagger:
        tagged = tagged_spans(docs, args.train_tagger or args.tagger)
        print(f"CNN tagger spans linked beyond the dictionary's: {sum(len(r['ngrams']) for r in tagged)}")
        results |= leave_one_out(tagged, "CNN tagger", classifier=False)
    print("document P / R / F1; n-gram tests chosen on the other corpus (the chosen setting in brackets; 'all linked': every one the linker links)")
    print("| system | " + " | ".join(CORPORA) + " |")
    print("|---|" + "---|" * len(CORPORA))
    for system, by_corpus in results.items():
        cells = [
            f"{s['p']:.3f} / {s['r']:.3f} / {s['f1']:.3f}" + (f" ({s['chosen']})" if "chosen" in s else "") for s in by_corpus.values()
        ]
        print(f"| {system} | " + " | ".join(cells) + " |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "learned_detection.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
