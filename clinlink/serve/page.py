"""The page at ``/``: static HTML and JavaScript (package data), with ``clinlink render``'s assertion colours."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from clinlink.io.render import assertion_colors

PAGE_FILE = Path(__file__).with_name("static") / "index.html"
COLORS_MARK = "/*ASSERTION_COLORS*/{}"


@lru_cache(maxsize=1)
def page_html() -> str:
    return PAGE_FILE.read_text(encoding="utf-8").replace(COLORS_MARK, json.dumps(assertion_colors()))
