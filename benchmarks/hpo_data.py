"""Readers of the shared HPO corpora (GSC+ dev, GeneReviews) for the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HPO_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hpo"


@dataclass(frozen=True)
class GoldMention:
    start: int
    end: int
    text: str
    concept_id: str


@dataclass(frozen=True)
class GoldDoc:
    doc_id: str
    text: str
    mentions: list[GoldMention]
    corpus: str = ""  # "GSC+" or "GeneReviews"


def read_gscplus(path: Path) -> list[GoldDoc]:
    """Blocks separated by blank lines: id line, text line, then start<TAB>end<TAB>mention<TAB>HP:id."""
    docs = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        lines = block.split("\n")
        mentions = []
        for line in lines[2:]:
            start, end, text, concept_id = line.split("\t")[:4]
            mentions.append(GoldMention(int(start), int(end), text, concept_id.strip()))
        docs.append(GoldDoc(lines[0].strip(), lines[1], mentions, "GSC+"))
    return docs


def read_genereviews(folder: Path) -> list[GoldDoc]:
    """corpus/<doc> holds the text, ann/<doc> one mention a line (start, end, mention, HP id)."""
    docs = []
    for corpus_file in sorted((folder / "corpus").iterdir()):
        text = corpus_file.read_text(encoding="utf-8")
        mentions = []
        for line in (folder / "ann" / corpus_file.name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                start, end, mention, concept_id = line.split("\t")[:4]
                mentions.append(GoldMention(int(start), int(end), mention, concept_id.strip()))
        docs.append(GoldDoc(corpus_file.name, text, mentions, "GeneReviews"))
    return docs


def read_hpo_corpora(folder: Path = HPO_DIR) -> list[GoldDoc]:
    """GSC+ dev + GeneReviews, or SystemExit with a clear message when ../shared is absent."""
    if not folder.exists():
        raise SystemExit(f"skipped: {folder} not found (the shared evaluation data sits beside the repo as ../shared)")
    return read_gscplus(folder / "gscplus_dev.tsv") + read_genereviews(folder / "genereviews")
