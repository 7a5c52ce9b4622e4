"""Batch labelling of report texts: the pipeline with label phrases, label rows with evidence."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from clinlink.similarity.labels import LabelSet, RuleLabeler, findings_from_doc

#: Components a labelling or indexing job does without (see :func:`labelling_pipeline`).
LABELLING_EXCLUDES = ("linker",)


def labelling_pipeline(pipeline: str, label_sets: Sequence[str]) -> Any:
    """The spaCy pipeline with the label sets' extra phrases found before assertion (none: as is).

    Labels and concept sets read the mention detector's and the label phrases' concepts, so the linker
    is left out: it would relink the label phrases' spans (on the Indiana reports it lowered kNN p@1
    from 0.67 to 0.55), and per-vocabulary codes are no part of a label or a concept set."""
    import clinlink
    from clinlink.similarity.component import add_label_phrases

    nlp = clinlink.load(pipeline, exclude=LABELLING_EXCLUDES)
    return add_label_phrases(nlp, label_sets) if label_sets else nlp


def pipeline_kb_spec(nlp: Any) -> str | None:
    """The ``kb`` setting of a pipeline's components (the first that has one), else None."""
    for name in nlp.pipe_names:
        spec = nlp.config["components"].get(name, {}).get("kb")
        if spec:
            return str(spec)
    return None


def pipeline_kb(nlp: Any) -> Any:
    """The knowledge base a pipeline's components use, shared with them (None when they use none)."""
    from clinlink.kb.shared import shared_kb

    spec = pipeline_kb_spec(nlp)
    return shared_kb(spec) if spec else None


def label_columns(label_set: LabelSet, evidence: bool = True) -> list[str]:
    """``id``, one column per label, then ``<label>_evidence`` columns."""
    names = label_set.names
    return ["id", *names, *([f"{name}_evidence" for name in names] if evidence else [])]


def _docs(nlp: Any, texts: list[str], batch_size: int) -> Iterator[tuple[Any | None, Exception | None]]:
    """Docs in order; a batch that fails is redone text by text so one bad report fails alone."""
    try:
        for doc in nlp.pipe(texts, batch_size=batch_size):
            yield doc, None
        return
    except Exception:  # noqa: BLE001  (isolated below, report by report)
        pass
    for text in texts:
        try:
            yield nlp(text), None
        except Exception as error:  # noqa: BLE001
            yield None, error


def label_rows(
    nlp: Any, labeler: RuleLabeler, reports: Sequence[Any], evidence: bool = True, batch_size: int = 64
) -> tuple[list[list[Any]], list[dict[str, str]]]:
    """Rows of label values (and evidence) for reports with ``.id`` and ``.text``; failures as error records."""
    names = labeler.label_set.names
    rows, errors = [], []
    for report, (doc, error) in zip(reports, _docs(nlp, [r.text for r in reports], batch_size)):
        if error is not None:
            errors.append({"id": report.id, "error": f"{type(error).__name__}: {error}"})
            continue
        values = labeler.label(findings_from_doc(doc))
        row = [report.id, *[values[name].value for name in names]]
        if evidence:
            row += [values[name].describe() for name in names]
        rows.append(row)
    return rows, errors
