"""ICD-10-CM titles cut to the words a note uses (clinlink.linking.icd_names)."""

from __future__ import annotations

import pytest

from clinlink.linking.icd_names import core_name, core_names


@pytest.mark.parametrize(
    ("title", "core"),
    [
        ("Fever, unspecified", ("fever", 0)),
        ("Hematuria, unspecified", ("hematuria", 0)),
        ("Pleural effusion, not elsewhere classified", ("pleural effusion", 1)),
        ("Anemia NOS", ("anemia", 0)),
        ("Essential (primary) hypertension", ("essential hypertension", 2)),
    ],
)
def test_a_title_is_cut_to_its_core(title, core):
    assert core_name(title) == core


def test_parenthesized_modifiers_are_also_read_before_the_core():
    keys, _ = core_names("Hypertension (arterial) (essential)")
    assert keys[:3] == ["hypertension", "arterial hypertension", "essential hypertension"]


def test_kidney_failure_is_also_renal_failure():
    assert core_names("Unspecified kidney failure")[0] == ["kidney failure", "renal failure"]
    assert "chronic renal disease" in core_names("Chronic kidney disease, unspecified")[0]
    assert core_names("Calculus of kidney")[0] == ["calculus of kidney"]  # only "kidney failure / disease" were renamed
