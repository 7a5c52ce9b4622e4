"""ConText-style assertion of target mentions, in plain Python (no spaCy).

For each sentence holding a target the text is split into word/punctuation
tokens, cues are matched (longest first; pseudo-cues suppress the cues they
overlap) and each cue gets a scope:

* forward cues reach to the right, backward cues to the left, "both" either way;
  "within" cues act only on a mention that contains them ("alcohol use");
* a scope ends at the sentence edge, at a termination cue, at terminating
  punctuation (";"), at a header-like colon ("Exam:" but not "the following:")
  and at a status cue of another category (unless that cue is marked
  ``cuts: false``, as alternatives such as "or" are). Cues that touch (no token between,
  "no evidence of | possible X") do not cut each other: both apply, and the
  precedence decides;
* every scope is capped at ``max_scope`` tokens (the cue's own or the lexicon's);
* a termination marked ``after_target`` ("with") ends a forward scope only when
  another target lies between the cue and it: "no cardiomegaly with small
  effusions" negates cardiomegaly alone, "no pneumothorax or effusion" both.

A forward cue applies to a target that starts inside its scope, a backward cue
to a target that ends inside it; a status cue overlapping the target (part of
the mention, as in "absent pulses") is ignored, while a historical cue inside it
("prior MI", "psychiatric history") makes the mention historical. The status is the highest-ranked
category found (lexicon ``precedence``, by default family > hypothetical >
absent > possible > conditional), else the section default, else "present";
historical is set by a historical cue or the section default, resolved by a
resolved cue ("headache resolved": it happened, so the status stays present).
The cues kept on the result are the nearest deciding cue of each applied category.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from clinlink.assertion.lexicon import STATUS_CATEGORIES, Cue, Lexicon, load_lexicon
from clinlink.text.sentences import sentence_starts

_TOKEN = re.compile(r"[^\W_]+|[^\w\s]|_")


@dataclass(frozen=True, slots=True)
class CueMatch:
    """A cue found in the text (character offsets into the analysed text)."""

    start: int
    end: int
    text: str
    category: str

    def as_list(self) -> list:
        """Plain-data form stored in ``span._.assertion_cues``."""
        return [self.start, self.end, self.text, self.category]


@dataclass(slots=True)
class Assertion:
    """Assertion of one target: status, temporality flags and the cues that decided them.

    ``historical``: the problem began before this encounter (a past or long-standing one);
    ``resolved``: it happened and is over now (the status stays "present", as in the
    i2b2 assertion guidelines; labels and concept sets count it as not present now).
    """

    status: str = "present"
    historical: bool = False
    resolved: bool = False
    cues: list[CueMatch] = field(default_factory=list)


@dataclass(slots=True)
class _Scoped:
    """A matched cue with its token range and its scope in character offsets."""

    cue: Cue
    first: int  # first token index
    last: int  # one past the last token index
    start: int  # character offsets of the cue
    end: int
    forward: tuple[int, int] | None = None
    backward: tuple[int, int] | None = None


class ContextMatcher:
    """Compiled lexicon: finds cues, scopes them and asserts targets."""

    def __init__(self, lexicon: Lexicon | None = None):
        self.lexicon = lexicon or load_lexicon()
        groups: dict[tuple[str, ...], list[Cue]] = {}
        for cue in self.lexicon.cues:
            groups.setdefault(cue.tokens, []).append(cue)
        by_first: dict[str, list[tuple[tuple[str, ...], tuple[Cue, ...]]]] = {}
        for tokens, cues in groups.items():
            real = tuple(c for c in cues if c.category != "pseudo")
            by_first.setdefault(tokens[0], []).append((tokens, real or tuple(cues)))
        for candidates in by_first.values():
            candidates.sort(key=lambda item: -len(item[0]))
        self._by_first = by_first
        self._rank = {status: rank for rank, status in enumerate(self.lexicon.precedence)}

    # -- public API -------------------------------------------------------

    def assert_targets(
        self,
        text: str,
        targets: Sequence[tuple[int, int]],
        sentences: Sequence[tuple[int, int]] | None = None,
        sections: Sequence[tuple[int, int, str] | None] | None = None,
    ) -> list[Assertion]:
        """Assertions for ``targets`` (character spans in ``text``).

        ``sentences``: character spans of the sentences (default: found with
        clinlink's sentence splitter). ``sections``: for each target, its
        section as (header start, header end, section name) or None; used for
        the lexicon's section defaults, reported as a cue at the header.
        """
        if not targets:
            return []
        if sentences is None:
            starts = sentence_starts(text) or [0]
            starts[0] = 0
            sentences = list(zip(starts, starts[1:] + [len(text)]))
        sentence_starts_ = [start for start, _ in sentences]
        by_sentence: dict[int, list[int]] = {}
        for index, (start, _) in enumerate(targets):
            sentence = max(bisect_right(sentence_starts_, start) - 1, 0)
            by_sentence.setdefault(sentence, []).append(index)
        results: list[Assertion] = [Assertion() for _ in targets]
        for sentence, indexes in by_sentence.items():
            sent_start, sent_end = sentences[sentence] if sentences else (0, len(text))
            scoped, stops = self._scope(text, sent_start, sent_end)
            if not scoped:
                continue
            starts = [mod.start for mod in scoped]
            reach = max(_reach(mod) for mod in scoped)
            neighbours = [targets[index] for index in indexes] if stops else []
            for index in indexes:
                target_start, target_end = targets[index]
                low = bisect_left(starts, target_start - reach)
                high = bisect_right(starts, target_end + reach)
                results[index] = self._decide(targets[index], scoped[low:high], stops, neighbours)
        if sections:
            for target_index, section in enumerate(sections):
                self._apply_section(results[target_index], section)
        return results

    def find_cues(self, text: str) -> list[CueMatch]:
        """The modifier cues of ``text`` (one sentence; no terminations) after pseudo-cue suppression, in order."""
        return [CueMatch(s.start, s.end, text[s.start:s.end], s.cue.category) for s in self._scope(text, 0, len(text))[0]]

    # -- steps ------------------------------------------------------------

    @staticmethod
    def _tokens(text: str, start: int, end: int) -> tuple[list[str], list[re.Match]]:
        """Lower-case tokens of text[start:end] and their regex matches (for offsets and case)."""
        spans = list(_TOKEN.finditer(text, start, end))
        lowered = text[start:end].lower().replace("\u2019", "'")
        if len(lowered) == end - start:
            words = _TOKEN.findall(lowered)
            if len(words) == len(spans):
                return words, spans
        return [m.group().lower().replace("\u2019", "'") for m in spans], spans

    def _match(self, words: list[str]) -> list[tuple[int, int, tuple[Cue, ...]]]:
        """Longest cue at each position; pseudo-cues drop what they overlap; then non-overlapping, longest first.

        A phrase listed under several categories or directions yields all of them.
        """
        found: list[tuple[int, int, tuple[Cue, ...]]] = []
        by_first = self._by_first
        count = len(words)
        for i, word in enumerate(words):
            candidates = by_first.get(word)
            if not candidates:
                continue
            for tokens, cues in candidates:
                n = len(tokens)
                if i + n <= count and (n == 1 or tuple(words[i:i + n]) == tokens):
                    found.append((i, i + n, cues))
                    break
        if not found:
            return found
        blocked = [False] * count
        for first, last, cues in found:
            if cues[0].category == "pseudo":
                blocked[first:last] = [True] * (last - first)
        if any(blocked):
            found = [m for m in found if m[2][0].category == "pseudo" or not any(blocked[m[0]:m[1]])]
        found.sort(key=lambda m: (m[0] - m[1], m[0]))
        taken = [False] * count
        kept = []
        for first, last, cues in found:
            if not any(taken[first:last]):
                taken[first:last] = [True] * (last - first)
                if cues[0].category != "pseudo":
                    kept.append((first, last, cues))
        kept.sort(key=lambda m: m[0])
        return kept

    def _scope(self, text: str, sent_start: int, sent_end: int) -> tuple[list[_Scoped], list[_Scoped]]:
        """The scoped modifier cues of a sentence, and its ``after_target`` terminations (applied per target)."""
        words, spans = self._tokens(text, sent_start, sent_end)
        matches = self._match(words)
        if not matches:
            return [], []
        lexicon = self.lexicon
        # Token indexes that end every scope (punctuation and header colons).
        barriers: list[int] = []
        for i, word in enumerate(words):
            if word in lexicon.terminating_punctuation:
                barriers.append(i)
            elif word == ":" and lexicon.header_colon_terminates and i > 0 and spans[i - 1].group()[:1].isupper():
                barriers.append(i)
            elif word == ")" and lexicon.list_markers_terminate and i > 0 and _is_list_marker(words, i - 1):
                barriers.append(i - 1)
        scoped = [_Scoped(cue, first, last, spans[first].start(), spans[last - 1].end()) for first, last, cues in matches for cue in cues]
        count = len(words)
        for index, mod in enumerate(scoped):
            if mod.cue.category == "termination":
                continue
            limit = mod.cue.max_scope or lexicon.max_scope
            if mod.cue.direction in ("forward", "both"):
                stop = min(count, mod.last + limit)
                stop = _first_after(barriers, mod.last, stop, skip_adjacent=words, start=mod.last)
                for later in range(index + 1, len(scoped)):
                    other = scoped[later]
                    if other.first >= stop:
                        break
                    if other.first >= mod.last and _cuts(mod, other, other.first == mod.last):
                        stop = other.first
                        break
                if stop > mod.last:
                    mod.forward = (spans[mod.last].start(), spans[stop - 1].end())
            if mod.cue.direction in ("backward", "both"):
                begin = max(0, mod.first - limit)
                begin = _last_before(barriers, begin, mod.first, words)
                for earlier in range(index - 1, -1, -1):
                    other = scoped[earlier]
                    if other.last <= begin:
                        break
                    if other.last <= mod.first and _cuts(mod, other, other.last == mod.first):
                        begin = other.last
                        break
                if begin < mod.first:
                    mod.backward = (spans[begin].start(), spans[mod.first - 1].end())
        modifiers = [s for s in scoped if s.cue.category != "termination"]
        stops = [s for s in scoped if s.cue.after_target]
        return modifiers, stops

    def _decide(
        self,
        target: tuple[int, int],
        scoped: list[_Scoped],
        stops: list[_Scoped] = (),
        neighbours: Sequence[tuple[int, int]] = (),
    ) -> Assertion:
        target_start, target_end = target
        best: dict[str, tuple[int, _Scoped]] = {}
        for mod in scoped:
            distance = None
            if (
                mod.forward
                and mod.end <= target_start
                and mod.forward[0] <= target_start < mod.forward[1]
                and not (stops and _stopped_before(mod, target_start, stops, neighbours))
            ):
                distance = target_start - mod.end
            if mod.backward and mod.start >= target_end and mod.backward[0] < target_end <= mod.backward[1]:
                back = mod.start - target_end
                distance = back if distance is None else min(distance, back)
            category = mod.cue.category
            if (category == "historical" or mod.cue.direction == "within") and target_start <= mod.start and mod.end <= target_end:
                distance = 0
            if distance is None:
                continue
            if category not in best or distance < best[category][0]:
                best[category] = (distance, mod)
        assertion = Assertion()
        statuses = [c for c in best if c in STATUS_CATEGORIES]
        if statuses:
            status = min(statuses, key=self._rank.__getitem__)
            assertion.status = status
            assertion.cues.append(_cue_match(best[status][1]))
        if "historical" in best:
            assertion.historical = True
            assertion.cues.append(_cue_match(best["historical"][1]))
        if "resolved" in best:
            assertion.resolved = True
            assertion.cues.append(_cue_match(best["resolved"][1]))
        assertion.cues.sort(key=lambda c: c.start)
        return assertion

    def _apply_section(self, assertion: Assertion, section: tuple[int, int, str] | None) -> None:
        if not section:
            return
        start, end, name = section
        default = self.lexicon.section_defaults.get(name)
        if default is None:
            return
        if default.status and (assertion.status == "present" or self._rank[default.status] < self._rank[assertion.status]):
            assertion.status = default.status
            assertion.cues = [c for c in assertion.cues if c.category not in STATUS_CATEGORIES]
            assertion.cues.append(CueMatch(start, end, name, default.status))
        if default.historical and not assertion.historical:
            assertion.historical = True
            assertion.cues.append(CueMatch(start, end, name, "historical"))
        assertion.cues.sort(key=lambda c: c.start)


def _reach(mod: _Scoped) -> int:
    """How far (characters) from its start a cue can act."""
    reach = mod.end - mod.start
    if mod.forward:
        reach = max(reach, mod.forward[1] - mod.start)
    if mod.backward:
        reach = max(reach, mod.start - mod.backward[0])
    return reach


def _is_list_marker(words: list[str], i: int) -> bool:
    """"2)" or "b)" opening an enumerated item (not "(2)" or "(b)")."""
    word = words[i]
    return (word.isdigit() and len(word) <= 2 or len(word) == 1 and word.isalpha()) and (i == 0 or words[i - 1] != "(")


def _cue_match(scoped: _Scoped) -> CueMatch:
    return CueMatch(scoped.start, scoped.end, scoped.cue.phrase, scoped.cue.category)


def _stopped_before(mod: _Scoped, target_start: int, stops: list[_Scoped], neighbours: Sequence[tuple[int, int]]) -> bool:
    """Does an ``after_target`` termination between cue ``mod`` and the target follow another target in the scope?"""
    category = mod.cue.category
    for stop in stops:
        if stop.start < mod.end or (stop.cue.ends and category not in stop.cue.ends):
            continue
        if stop.start >= target_start:
            break
        if any(mod.end <= start and end <= stop.start for start, end in neighbours):
            return True
    return False


def _cuts(mod: _Scoped, other: _Scoped, adjacent: bool) -> bool:
    """Does cue ``other`` end the scope of ``mod``?"""
    category = other.cue.category
    if other.cue.direction == "within":
        return False
    if category == "termination":
        if other.cue.after_target:
            return False
        return not other.cue.ends or mod.cue.category in other.cue.ends
    if adjacent or not other.cue.cuts:
        return False
    mine = mod.cue.category
    return mine in STATUS_CATEGORIES and category in STATUS_CATEGORIES and category != mine


def _first_after(barriers: list[int], low: int, high: int, skip_adjacent: list[str], start: int) -> int:
    """The first barrier in [low, high) (a colon right after the cue is skipped), else ``high``."""
    i = bisect_left(barriers, low)
    while i < len(barriers) and barriers[i] < high:
        position = barriers[i]
        if not (position == start and skip_adjacent[position] == ":"):
            return position
        i += 1
    return high


def _last_before(barriers: list[int], low: int, high: int, words: list[str]) -> int:
    """One past the last barrier in [low, high) (a colon right before the cue is skipped), else ``low``."""
    i = bisect_left(barriers, high) - 1
    while i >= 0 and barriers[i] >= low:
        position = barriers[i]
        if not (position == high - 1 and words[position] == ":"):
            return position + 1
        i -= 1
    return low
