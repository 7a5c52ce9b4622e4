#!/usr/bin/env bash
# Install check: build the wheel, install it (not editable) into a fresh venv, and from a folder outside
# the checkout annotate the example notes, load every packaged pipeline, link, label and compile a KB.
# The installed package's annotations must equal the editable checkout's (.venv, built by .ci/run).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

rm -rf "$repo/build"   # setuptools reuses it: a stale copy could hide a module missing from the wheel
"$repo/.venv/bin/pip" wheel "$repo" --no-deps -q -w "$work/dist"
wheel=$(ls "$work"/dist/clinlink-*.whl)
size=$(stat -c %s "$wheel")
echo "wheel: $(basename "$wheel") $((size / 1000000)) MB"
[ "$size" -lt 100000000 ] || { echo "the wheel is over 100 MB" >&2; exit 1; }

python3.11 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$wheel"

mkdir -p "$work/run"
cd "$work/run"   # outside the checkout: nothing can be read from it by accident
export CLINLINK_HOME="$work/home"
cp -r "$repo/examples/notes" notes
start=$(date +%s)
"$work/venv/bin/clinlink" annotate notes -o installed
echo "first run on a fresh install (empty cache): $(( $(date +%s) - start )) s"

CLINLINK_HOME="$work/editable-home" "$repo/.venv/bin/clinlink" annotate notes -o editable
"$repo/.venv/bin/python" "$repo/.ci/same_annotations.py" installed editable

printf 'uid,findings,impression\nR1,Small left pleural effusion.,No pneumothorax.\nR2,Heart size is normal.,No acute disease.\n' > reports.csv
"$work/venv/bin/clinlink" label reports.csv --labels chestxray14 --id-col uid --text-col findings,impression -o labels.csv
grep -q '^R1,' labels.csv

"$work/venv/bin/python" - <<'PY'
import clinlink
from clinlink.kb import load_kb
from clinlink.linking import Linker

for name in ("clinical", "radiology", "phenotype"):
    doc = clinlink.load(name)("No pleural effusion. Mother had breast cancer.")
    assert [ent._.assertion for ent in doc.ents][:1] == ["absent"], (name, [(e.text, e._.assertion) for e in doc.ents])
top = Linker.from_kb(load_kb()).link(["enlarged heart", "fluid around the lung"], k=3, sources=["HP"])
assert [candidates[0].concept_id for candidates in top] == ["HP:0001640", "HP:0002202"], top
print("python API: pipelines load and link from the installed package")
PY

config=$("$work/venv/bin/python" -c "from clinlink.resources import ONTOLOGY, packaged_dir; print(packaged_dir(ONTOLOGY) / 'hpo.yaml')")
"$work/venv/bin/clinlink" kb build --config "$config" --out "$work/hpo-kb"
info=$("$work/venv/bin/clinlink" kb info --kb "$work/hpo-kb")
grep -q "concepts:HP=" <<<"$info"
echo "install check passed"
