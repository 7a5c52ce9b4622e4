"""Loading and validating lexicon YAML files."""

from __future__ import annotations

import re

import pytest

from clinlink.assertion import DEFAULT_LEXICON, ContextMatcher, load_lexicon, parse_lexicon
from clinlink.assertion.lexicon import STATUSES
from clinlink.errors import SourceFormatError

MINIMAL = """\
cues:
  absent:
    forward: [no, {cue: without, max_scope: 2}]
  historical:
    backward: [in the past]
pseudo: [no change]
termination: [but, {cue: patient, ends: [family]}]
precedence: [family, hypothetical, absent, possible, conditional]
"""


def test_packaged_lexicon_loads_with_every_category():
    lexicon = load_lexicon()
    categories = {cue.category for cue in lexicon.cues}
    assert categories == set(STATUSES) - {"present"} | {"historical", "resolved", "pseudo", "termination"}
    assert lexicon.precedence[0] == "family"
    assert lexicon.section_defaults["family_history"].status == "family"
    assert lexicon.section_defaults["past_medical_history"].historical
    assert "indication" not in lexicon.section_defaults
    # YAML words like "no" stay words, not booleans
    assert any(cue.phrase == "no" for cue in lexicon.cues)


def test_minimal_lexicon(tmp_path):
    path = tmp_path / "lexicon.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    matcher = ContextMatcher(parse_lexicon(path))
    text = "Without support he had fever in the past."
    start = text.index("fever")
    result = matcher.assert_targets(text, [(start, start + 5)], [(0, len(text))])[0]
    assert result.status == "present"  # "without" reaches two tokens only
    assert result.historical
    text = "No change in edema."
    start = text.index("edema")
    assert matcher.assert_targets(text, [(start, start + 5)], [(0, len(text))])[0].status == "present"


@pytest.mark.parametrize(
    ("replace", "by", "message", "line"),
    [
        ("  absent:", "  negated:", "unknown cue category 'negated'", 2),
        ("    forward: [no,", "    onward: [no,", "unknown direction 'onward'", 3),
        ("max_scope: 2", "max_scope: -1", "max_scope of 'without' must be a positive integer", 3),
        ("[family, hypothetical, absent, possible, conditional]", "[family, absent]", "'precedence' must list", None),
        ("ends: [family]", "ends: [kin]", "unknown categories ['kin']", 7),
        ("{cue: without, max_scope: 2}", "{cue: without, scope: 2}", "unknown keys ['scope']", 3),
        ("{cue: patient, ends: [family]}", "{cue: patient, after_target: maybe}", "after_target of 'patient' must be true or false", 7),
        ("{cue: without, max_scope: 2}", "{cue: without, cuts: sometimes}", "cuts of 'without' must be true or false", 3),
    ],
)
def test_errors_name_file_and_line(tmp_path, replace, by, message, line):
    path = tmp_path / "bad.yaml"
    assert replace in MINIMAL
    path.write_text(MINIMAL.replace(replace, by), encoding="utf-8")
    with pytest.raises(SourceFormatError, match=re.escape(message)) as error:
        parse_lexicon(path)
    assert error.value.path == str(path)
    if line is not None:
        assert error.value.line == line


def test_invalid_yaml_and_missing_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("cues: [unclosed\n", encoding="utf-8")
    with pytest.raises(SourceFormatError, match="invalid YAML"):
        parse_lexicon(path)
    with pytest.raises(SourceFormatError, match="cannot read"):
        parse_lexicon(tmp_path / "nope.yaml")


def test_default_lexicon_file_is_beside_the_code():
    assert DEFAULT_LEXICON.name == "lexicon.yaml" and DEFAULT_LEXICON.exists()


def test_packaged_cues_are_single_phrases():
    # a mis-indented list item folds into the previous phrase ("could not rule out - rule out")
    lexicon = load_lexicon()
    assert not [cue.phrase for cue in lexicon.cues if " - " in cue.phrase or "\n" in cue.phrase]
    assert any(cue.phrase == "rule out" and cue.category == "possible" for cue in lexicon.cues)


def test_within_cues_and_after_target_terminations(tmp_path):
    path = tmp_path / "lexicon.yaml"
    path.write_text(
        MINIMAL.replace("    backward: [in the past]", "    backward: [in the past]\n    within: [tobacco]").replace(
            "termination: [but,", "termination: [{cue: with, ends: [absent], after_target: true}, but,"
        ),
        encoding="utf-8",
    )
    lexicon = parse_lexicon(path)
    within = [cue for cue in lexicon.cues if cue.direction == "within"]
    assert [(cue.phrase, cue.category) for cue in within] == [("tobacco", "historical")]
    stop = next(cue for cue in lexicon.cues if cue.phrase == "with")
    assert stop.after_target and stop.ends == {"absent"}
    matcher = ContextMatcher(lexicon)
    text = "No fever with cough; tobacco use."
    spans = [(text.index(word), text.index(word) + len(word)) for word in ("fever", "cough", "tobacco use")]
    fever, cough, tobacco = matcher.assert_targets(text, spans, [(0, len(text))])
    assert (fever.status, cough.status) == ("absent", "present")
    assert tobacco.historical and not cough.historical


def test_resolved_flag_and_cues_that_do_not_cut(tmp_path):
    path = tmp_path / "lexicon.yaml"
    path.write_text(
        MINIMAL.replace(
            "  historical:",
            "  possible:\n    both: [{cue: or, max_scope: 3, cuts: false}]\n  resolved:\n    backward: [resolved]\n  historical:",
        ),
        encoding="utf-8",
    )
    lexicon = parse_lexicon(path)
    alternative = next(cue for cue in lexicon.cues if cue.phrase == "or")
    assert not alternative.cuts and all(cue.cuts for cue in lexicon.cues if cue.phrase != "or")
    matcher = ContextMatcher(lexicon)
    text = "No fever or cough; rash resolved."
    spans = [(text.index(word), text.index(word) + len(word)) for word in ("fever", "cough", "rash")]
    fever, cough, rash = matcher.assert_targets(text, spans, [(0, len(text))])
    assert (fever.status, cough.status) == ("absent", "absent")  # "or" leaves the negation whole
    assert (rash.status, rash.resolved) == ("present", True)
