"""Exit 1 unless two `clinlink annotate` JSONL outputs hold the same notes with the same annotations."""

import json
import sys
from pathlib import Path


def records(folder: Path) -> dict[str, dict]:
    found = {}
    for shard in sorted(folder.glob("part-*.jsonl")):
        for line in shard.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            found[record["id"]] = record
    return found


first, second = (records(Path(arg)) for arg in sys.argv[1:3])
if not first:
    sys.exit(f"{sys.argv[1]}: no annotated notes")
if first.keys() != second.keys():
    sys.exit(f"different notes: {sorted(first.keys() ^ second.keys())}")
for note_id, record in first.items():
    if record != second[note_id]:
        sys.exit(f"note {note_id}: the annotations differ")
mentions = sum(len(record["entities"]) for record in first.values())
print(f"same annotations: {len(first)} notes, {mentions} mentions")
