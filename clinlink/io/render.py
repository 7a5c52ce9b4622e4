"""displaCy HTML of an annotated note: mentions coloured by assertion, with concept id, name and codes."""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path

import yaml
from spacy import displacy
from spacy.tokens import Doc, Span

from clinlink.io.records import code_strings
from clinlink.io.writers import atomic_write_text

COLORS_FILE = Path(__file__).with_name("render.yaml")
CODES_SHOWN = 2  # codes per system on a label


@lru_cache(maxsize=1)
def assertion_colors() -> dict[str, str]:
    return dict(yaml.safe_load(COLORS_FILE.read_text(encoding="utf-8")))


def mention_label(span: Span) -> str:
    """``HP:0002202 Pleural effusion [absent, historical] ICD10CM J90; UMLS C0032227``."""
    concept = f"{span._.concept_id} {span._.concept_name or ''}".strip() if span._.concept_id else f"{span.label_} (unlinked)"
    status = [span._.assertion or "present"] + (["historical"] if span._.historical else []) + (["resolved"] if span._.resolved else [])
    codes = "; ".join(
        f"{system} {' '.join(code_strings(values)[:CODES_SHOWN])}" for system, values in (span._.codes or {}).items() if values
    )
    return f"{concept} [{', '.join(status)}]" + (f" {codes}" if codes else "")


def mention_color(span: Span) -> str:
    colors = assertion_colors()
    if not span._.concept_id:
        return colors["unlinked"]
    return colors.get(span._.assertion or "present", colors["present"])


def render_markup(doc: Doc) -> str:
    """displaCy's entity markup for ``doc`` (labels HTML-escaped, one colour per label)."""
    ents, colors = [], {}
    for span in doc.ents:
        label = html.escape(mention_label(span))
        ents.append({"start": span.start_char, "end": span.end_char, "label": label})
        colors[label.upper()] = mention_color(span)
    return displacy.render({"text": doc.text, "ents": ents}, style="ent", manual=True, page=False, options={"colors": colors})


def legend_markup() -> str:
    items = "".join(
        f'<li><span class="swatch" style="background: {color}"></span>{html.escape(name)}</li>'
        for name, color in assertion_colors().items()
    )
    return f'<ul class="legend">{items}</ul>'


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.5em 2em; color: #222; }}
h1 {{ font-size: 1.2em; margin: 0 0 0.4em; }}
.legend {{ list-style: none; padding: 0; margin: 0 0 1em; display: flex; flex-wrap: wrap; gap: 0.6em 1.2em; font-size: 0.85em; }}
.legend .swatch {{ display: inline-block; width: 0.9em; height: 0.9em; border-radius: 0.2em; margin-right: 0.35em; vertical-align: -0.1em; }}
.summary {{ font-size: 0.85em; color: #555; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="summary">{summary}</p>
{legend}
{markup}
</body>
</html>
"""


def render_html(doc: Doc, title: str = "clinlink") -> str:
    """A standalone HTML page: title, counts, legend of assertion colours, the marked-up note."""
    linked = sum(1 for span in doc.ents if span._.concept_id)
    summary = f"{len(doc.ents)} mentions, {linked} linked to a concept"
    return PAGE.format(title=html.escape(title), summary=summary, legend=legend_markup(), markup=render_markup(doc))


def write_html(doc: Doc, path: Path, title: str = "clinlink") -> Path:
    return atomic_write_text(path, render_html(doc, title))
