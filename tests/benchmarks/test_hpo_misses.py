"""The wording classes of the detector's missed mentions (benchmarks/hpo_misses.py), on made-up names."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from hpo_misses import miss_kind  # noqa: E402

from clinlink.text.normalize import normalize  # noqa: E402

GOLD = ["Enlarged spleen", "Splenomegaly"]
OTHERS = {normalize(n) for n in ("Hepatomegaly", "Fever")}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("splenomegaly", "a name of the gold concept"),
        ("enlarged spleens", "a name of the gold concept"),  # inflection folds into the name
        ("fever", "a name of another HPO concept"),
        ("HSM", "abbreviation"),
        ("spleen enlarged", "word order / inflection of a gold name"),
        ("spleen of large size", "shares a content word with a gold name"),
        ("big belly organ", "no word shared (paraphrase)"),
    ],
)
def test_miss_kind(text, kind):
    assert miss_kind(text, GOLD, OTHERS) == kind
