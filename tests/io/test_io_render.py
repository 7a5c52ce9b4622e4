"""``clinlink render``: displaCy HTML with mentions coloured by assertion, checked in headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from clinlink.cli.main import app
from clinlink.io.render import assertion_colors, mention_label, render_html

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--window-size=1200,800",
)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI (.ci/run should install Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium); required in CI")
    return found


def screenshot(html_path, tmp_path):
    """A PNG of the page from headless Chromium, as an RGB pixel array."""
    Image = pytest.importorskip("PIL.Image")
    import numpy as np

    png = tmp_path / "page.png"
    subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", html_path.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    return np.asarray(Image.open(png).convert("RGB"))


def pixels_of(image, hex_color: str, tolerance: int = 4) -> int:
    import numpy as np

    rgb = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(image.astype(int) - rgb).max(axis=2) <= tolerance).sum())


def test_labels_carry_concept_name_codes_and_assertion(annotated_doc):
    effusion, cardiomegaly, asthma = annotated_doc.ents
    assert mention_label(effusion) == "HP:0002202 Pleural effusion [absent] ICD10CM J90; UMLS C0032227"
    assert mention_label(cardiomegaly) == "HP:0001640 Cardiomegaly [present]"
    assert mention_label(asthma) == "HP:0002099 Asthma [family, historical]"
    page = render_html(annotated_doc, title="note <1>")
    colors = assertion_colors()
    assert f"background: {colors['absent']}" in page and f"background: {colors['family']}" in page
    assert "note &lt;1&gt;" in page and "3 mentions, 3 linked" in page
    assert page.count('class="entity"') == 3


def test_rendered_note_shows_coloured_mentions_in_chromium(tmp_path, test_pipeline_for_render):
    note = tmp_path / "note.txt"
    note.write_text(
        "FINDINGS: No pleural effusion. No chylothorax. Pleural effusion is absent.\n"
        "IMPRESSION: Heart enlargement. Fluid in the pleural space. Chylothorax.\n",
        encoding="utf-8",
    )
    html_path = tmp_path / "note.html"
    result = CliRunner().invoke(app, ["render", str(note), "-o", str(html_path), "--pipeline", str(test_pipeline_for_render)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    page = html_path.read_text(encoding="utf-8")
    assert "HP:9000002 Pleural effusion [absent]" in page and "HP:9000006 Heart enlargement [present]" in page

    image = screenshot(html_path, tmp_path)
    colors = assertion_colors()
    absent, present = pixels_of(image, colors["absent"]), pixels_of(image, colors["present"])
    legend_only = pixels_of(image, colors["hypothetical"])  # in the legend, on no mention of this note
    assert 0 < legend_only < 400
    assert absent > 5 * legend_only and present > 5 * legend_only, (absent, present, legend_only)
    assert pixels_of(image, "#ffffff") > image.shape[0] * image.shape[1] // 3  # a page, not a blank or error screen


def test_render_of_a_missing_note_is_a_clear_error(tmp_path, test_pipeline_for_render):
    result = CliRunner().invoke(app, ["render", str(tmp_path / "nope.txt"), "-o", str(tmp_path / "x.html"), "--pipeline", str(test_pipeline_for_render)])
    assert result.exit_code == 1 and "nope.txt" in result.output and "unreadable" in result.output


def test_render_to_an_unwritable_place_is_a_clear_error(tmp_path, test_pipeline_for_render):
    note = tmp_path / "note.txt"
    note.write_text("Chylothorax.", encoding="utf-8")
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    result = CliRunner().invoke(app, ["render", str(note), "-o", str(blocker / "x.html"), "--pipeline", str(test_pipeline_for_render)])
    assert result.exit_code == 1 and "cannot write" in " ".join(result.output.split())
