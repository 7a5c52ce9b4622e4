"""Paraphrases of a KB name as notes word it, for training pairs: the order of "X of the Y" ("Abnormality of
the kidney" ~ "kidney abnormality") and a finding said of its subject ("Enlarged heart" ~ "heart is enlarged",
"Increased serum creatinine" ~ "serum creatinine increased")."""

from __future__ import annotations

import re

_OF = re.compile(r"^(?P<head>[A-Za-z][\w-]*(?: [\w-]+)?) of (?:the )?(?P<site>[\w-]+(?: [\w-]+)?)$")
_STATE = re.compile(
    r"^(?P<state>Increased|Decreased|Reduced|Elevated|Enlarged|Abnormal|Absent|Low|High|Short|Small|Large|Thin|Thick|Narrow|Broad|Prominent)"
    r" (?P<subject>[a-z][\w -]+)$"
)


def paraphrases(name: str) -> list[str]:
    """Other wordings of ``name`` (none for names no rule fits)."""
    found = []
    of = _OF.match(name)
    if of is not None:
        found.append(f"{of['site']} {of['head'].lower()}")
    state = _STATE.match(name)
    if state is not None:
        subject, word = state["subject"], state["state"].lower()
        verb = "are" if subject.endswith("s") and not subject.endswith("ss") else "is"
        found += [f"{subject} {verb} {word}", f"{subject} {word}"]
    return found
