"""The fixed, documented held-out split of concepts used for honest linking evaluation.

A concept is held out when the first byte of sha1(concept id) modulo 10 is 0 (about 10 %).
Training never sees any name of a held-out concept; benchmarks query their synonyms.
"""

from __future__ import annotations

import hashlib

HELD_OUT_MODULUS = 10


def is_held_out(concept_id: str) -> bool:
    """True for the ~10 % of concepts reserved for evaluation."""
    return hashlib.sha1(concept_id.encode("utf-8")).digest()[0] % HELD_OUT_MODULUS == 0
