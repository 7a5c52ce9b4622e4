import pytest
import spacy

import clinlink
from clinlink.errors import ConfigError

PIPELINE = """
name: listy
lang: en
tokenizer:
  infixes:
    - '(?<=[A-Za-z0-9)\\].])[;](?=[A-Za-z(])'
components:
  - name: segmenter
    factory: clinlink_segmenter
"""


def test_config_infixes_split_list_separators_and_survive_to_disk(tmp_path):
    config = tmp_path / "listy.yaml"
    config.write_text(PIPELINE, encoding="utf-8")
    nlp = clinlink.load(config)
    text = "Features: hypotonia;seizures;ataxia"
    assert [t.text for t in nlp(text)] == ["Features", ":", "hypotonia", ";", "seizures", ";", "ataxia"]
    assert [t.text for t in spacy.blank("en")(text)][-1] == "hypotonia;seizures;ataxia"  # spaCy alone keeps one token
    nlp.to_disk(tmp_path / "saved")
    assert [t.text for t in spacy.load(tmp_path / "saved")(text)] == [t.text for t in nlp(text)]


def test_invalid_infix_names_the_config(tmp_path):
    config = tmp_path / "broken.yaml"
    config.write_text(PIPELINE.replace("[;](?=", "([;](?="), encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.yaml.*infix"):
        clinlink.load(config)


def test_malformed_tokenizer_section_names_the_config(tmp_path):
    config = tmp_path / "odd.yaml"
    config.write_text(PIPELINE.replace("  infixes:\n    - ", "  infixes: "), encoding="utf-8")
    with pytest.raises(ConfigError, match="odd.yaml.*infixes"):
        clinlink.load(config)
