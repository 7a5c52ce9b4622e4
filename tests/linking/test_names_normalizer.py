"""Saved normalized names are reused only when the normalization code is the one that made them."""

from __future__ import annotations

import json

from clinlink.linking.names import FILE, NameTable, normalizer_digest


def test_saved_normalized_names_depend_on_the_normalizer(tmp_path):
    table = NameTable(["Pleural Effusions", "Oedema"], ["HP:0002202", "HP:0000969"])
    table.save(tmp_path)
    reloaded = NameTable.load(tmp_path)
    assert reloaded.normalizer_current and reloaded.normalized == table.normalized

    payload = json.loads((tmp_path / FILE).read_text(encoding="utf-8"))
    assert payload["normalizer"] == normalizer_digest()
    payload["normalizer"], payload["normalized"] = "an older normalize.py", ["stale", "stale"]
    (tmp_path / FILE).write_text(json.dumps(payload), encoding="utf-8")
    stale = NameTable.load(tmp_path)
    assert not stale.normalizer_current
    assert stale.normalized == table.normalized  # recomputed, not the stale saved values
