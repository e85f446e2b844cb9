"""Trigger phrases compiled for fast scanning: one small regular expression per first word.

A single alternation of some 300 phrases costs the regex engine every alternative at every word;
here each word start only tries the phrases that begin with that word (plus the few that begin
with a group, such as the relatives). Where phrases overlap, the longest wins, then the leftmost.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ocais.ingest.text.triggers import TRIGGERS, Trigger

_WORD_START = re.compile(r"(?<!\w)\w")
_FIRST_WORD = re.compile(r"[\w'/]+")
_LITERAL_PREFIX = re.compile(r"[a-z'/]+")
_KINDS = ("pre", "post", "terminate", "terminate-pre")
_WHITESPACE = r"\s+"


@dataclass(frozen=True, slots=True)
class Hit:
    """One trigger phrase found in a text; a phrase may be a trigger of several kinds."""

    start: int
    end: int
    pre: frozenset[str]
    post: frozenset[str]
    terminates: frozenset[str]
    terminates_pre: frozenset[str]

    def blocks(self, category: str) -> bool:
        """True if this trigger is of other categories only (it ends negation/uncertainty)."""
        triggers = self.pre | self.post
        return bool(triggers) and category not in triggers


def _first_word(pattern: str) -> str | None:
    """The literal word a phrase starts with, or None if it starts with a group."""
    match = _LITERAL_PREFIX.match(pattern)
    if match is None or pattern[match.end() : match.end() + 1] not in ("", " ", "-"):
        return None
    return match.group()


class ContextRules:
    """Trigger phrases (default :data:`~ocais.ingest.text.triggers.TRIGGERS`), compiled."""

    def __init__(self, triggers: Sequence[Trigger] = TRIGGERS) -> None:
        by_pattern: dict[str, list[Trigger]] = {}
        for trigger in triggers:
            by_pattern.setdefault(trigger.pattern, []).append(trigger)
        buckets: dict[str | None, list[str]] = {}
        for pattern in by_pattern:
            buckets.setdefault(_first_word(pattern), []).append(pattern)
        self._buckets: dict[str | None, tuple[re.Pattern[str], list[tuple[frozenset[str], ...]]]]
        self._buckets = {}
        for word, patterns in buckets.items():
            patterns.sort(key=lambda p: -len(p))
            groups = "|".join(
                f"(?P<t{i}>{p.replace(' ', _WHITESPACE)})" for i, p in enumerate(patterns)
            )
            kinds = [
                tuple(
                    frozenset(c for t in by_pattern[p] if t.direction == d for c in t.categories)
                    for d in _KINDS
                )
                for p in patterns
            ]
            self._buckets[word] = (re.compile(rf"(?:{groups})(?!\w)", re.IGNORECASE), kinds)

    def hits(self, text: str) -> list[Hit]:
        """Non-overlapping trigger phrases in text order (longest first where they overlap)."""
        found: list[Hit] = []
        generic = self._buckets.get(None)
        position = 0
        for start in _WORD_START.finditer(text):
            at = start.start()
            if at < position:
                continue
            first = _FIRST_WORD.match(text, at)
            word = first.group().casefold() if first else ""
            best: tuple[int, tuple[frozenset[str], ...]] | None = None
            for bucket in (self._buckets.get(word), generic):
                if bucket is None:
                    continue
                match = bucket[0].match(text, at)
                if match is None or match.lastgroup is None:
                    continue
                if best is None or match.end() > best[0]:
                    best = (match.end(), bucket[1][int(match.lastgroup[1:])])
            if best is not None:
                found.append(Hit(at, best[0], *best[1]))
                position = best[0]
        return found


DEFAULT_RULES = ContextRules()
