"""Assertion status of each recognized term: negated, uncertain, or about a relative.

The algorithm is NegEx (Chapman et al., J Biomed Inform 2001;34:301-310) with the experiencer and
hypothetical categories of ConText (Harkema et al., J Biomed Inform 2009;42:839-851); the trigger
phrases and the decisions taken on them are in :mod:`ocais.ingest.text.triggers`.

For each category, a mention takes the nearest *pre*-trigger before it and the nearest
*post*-trigger after it, when all of these hold:

- both are in one sentence (``. ; ! ?`` and line breaks end one) and no terminating phrase for
  that category ("but", "however", …; "and has", "shows", … for pre-triggers) lies between;
- at most :data:`PRE_WINDOW` (pre) or :data:`POST_WINDOW` (post) words lie between, not counting
  other mentions and "and", "or", "nor", so a list ("no seizures, ataxia or hypotonia") is
  negated as a whole; a post-trigger reaches back past other mentions only through such a list
  ("seizures and ataxia were absent", but not "seizures began early, and ataxia was absent");
- for negation and uncertainty, no trigger of another category lies between ("denies seizures,
  possible ataxia": ataxia is uncertain, not negated).

A two-way trigger ("possible", "suspected") looks forward unless a comma follows it. A negation
after the mention beats an uncertainty before it ("screening for X was negative" is excluded). A
question mark right before a mention ("?seizures") or ending its sentence makes it uncertain.
Triggers inside a mention are ignored ("Absent speech" is a finding, not a negation).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ocais.ingest.text.recognizer import Match
from ocais.ingest.text.rules import DEFAULT_RULES, ContextRules, Hit
from ocais.ingest.text.sections import find_sections, negative_answer, section_of
from ocais.ingest.text.triggers import CATEGORIES, FAMILY, NEGATED, UNCERTAIN
from ocais.schemas import HpoId, PhenotypeObservation

PRE_WINDOW = 6
POST_WINDOW = 3
_CONNECTORS = frozenset(
    {
        "and", "or", "nor", "also", "any", "as", "well",  # English; then de, es, fr, it, pt
        "und", "oder", "sowie", "noch", "y", "o", "ni", "e", "et", "ou", "né", "oppure",
    }
)  # fmt: skip
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?;](?=\s|$)|\n")
_NOT_SENTENCE_END = frozenset({"dr", "mr", "mrs", "ms", "vs", "approx", "etc", "fig", "st", "no"})

Status = Literal["observed", "excluded", "family", "uncertain"]


class Mention(BaseModel):
    """One HPO term found in a text, with its assertion status."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: HpoId
    label: str = Field(description="The term's name in the knowledge base")
    text: str = Field(description="The text as written, text[start:end]")
    start: int = Field(ge=0, description="Character offset of the first character")
    end: int = Field(ge=0, description="Character offset after the last character")
    excluded: bool = Field(default=False, description="Negated: the finding is absent")
    family: bool = Field(default=False, description="About a relative, not the patient")
    uncertain: bool = Field(default=False, description="Possible, suspected, to rule out")
    matched: str = Field(description="The dictionary label (name or synonym) that matched")
    confidence: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="1 for a label as written; lower when a word was read through a typo",
    )

    @property
    def status(self) -> Status:
        """One word for the assertion: family, then uncertain, then excluded, else observed."""
        if self.family:
            return "family"
        if self.uncertain:
            return "uncertain"
        return "excluded" if self.excluded else "observed"


def sentence_bounds(text: str) -> list[int]:
    """Offsets where sentences end (after the terminating character), text end included."""
    ends = []
    for match in _SENTENCE_END.finditer(text):
        if match.group() == ".":
            before = _WORD.findall(text[max(0, match.start() - 12) : match.start()])
            word = before[-1].casefold() if before else ""
            if word in _NOT_SENTENCE_END or (len(word) == 1 and word.isalpha()):
                continue
        ends.append(match.end())
    ends.append(len(text))
    return ends


class _Document:
    """One text with its matches, triggers and sentence ends, for the scope checks."""

    def __init__(
        self,
        text: str,
        matches: Sequence[Match],
        rules: ContextRules,
        ignored: Sequence[tuple[int, int]] = (),
    ) -> None:
        self.text = text
        self.ends = sentence_bounds(text)
        self._span_starts = [m.start for m in matches]
        self._span_ends = [m.end for m in matches]
        self._hits: dict[int, list[Hit]] = {}
        for hit in rules.hits(text):
            if any(start < hit.end and hit.start < end for start, end in ignored):
                continue  # the answer of a line form ("Hypotonia: no, seizures: yes")
            if not self._inside_mention(hit.start, hit.end):
                self._hits.setdefault(self._sentence_index(hit.start), []).append(hit)
        self._word_starts: list[int] = []
        self._counted = [0]
        for word in _WORD.finditer(text):
            skip = (
                self._inside_mention(word.start(), word.end())
                or word.group().casefold() in _CONNECTORS
            )
            self._word_starts.append(word.start())
            self._counted.append(self._counted[-1] + (0 if skip else 1))

    def _inside_mention(self, start: int, end: int) -> bool:
        """True if [start, end) overlaps a mention (mentions never overlap each other)."""
        index = bisect.bisect_right(self._span_starts, end - 1) - 1
        return index >= 0 and self._span_ends[index] > start

    def _sentence_index(self, offset: int) -> int:
        return bisect.bisect_right(self.ends, offset)

    def _words_between(self, start: int, end: int) -> int:
        left = bisect.bisect_left(self._word_starts, start)
        right = bisect.bisect_left(self._word_starts, end)
        return self._counted[right] - self._counted[left]

    def applies(self, category: str, match: Match) -> Literal["pre", "post", None]:
        """Whether a trigger of ``category`` applies to the mention, and from which side."""
        hits = self._hits.get(self._sentence_index(match.start), [])
        pre = next(
            (
                h
                for h in reversed(hits)
                if h.end <= match.start and category in h.pre and not self._ends_clause(h)
            ),
            None,
        )
        if pre is not None and self._in_scope(hits, category, pre.end, match.start, pre=True):
            return "pre"
        post = next((h for h in hits if h.start >= match.end and category in h.post), None)
        if post is None or (category in post.pre and self._mention_follows(hits, category, post)):
            return None  # "denies seizures, possible ataxia": "possible" is ataxia's pre-trigger
        if not self._coordinated(match, post):
            return None  # "A was confirmed, and B is suspected": only B is suspected
        return "post" if self._in_scope(hits, category, match.end, post.start, pre=False) else None

    def _coordinated(self, match: Match, hit: Hit) -> bool:
        """True if only "and"/"or"/commas separate the mention from the next ones up to ``hit``."""
        index = bisect.bisect_right(self._span_starts, match.start)
        end = match.end
        while index < len(self._span_starts) and self._span_starts[index] < hit.start:
            if self._words_between(end, self._span_starts[index]) > 0:
                return False
            end = self._span_ends[index]
            index += 1
        return True

    def _ends_clause(self, hit: Hit) -> bool:
        """A two-way trigger before a comma looks back: "X was suspected, Y confirmed"."""
        return bool(hit.post) and self.text[hit.end : hit.end + 1] in (",", ";", ":")

    def _mention_follows(self, hits: list[Hit], category: str, hit: Hit) -> bool:
        if self._ends_clause(hit):
            return False
        index = bisect.bisect_left(self._span_starts, hit.end)
        if index == len(self._span_starts):
            return False
        following = self._span_starts[index]
        same_sentence = self._sentence_index(following) == self._sentence_index(hit.start)
        return same_sentence and self._in_scope(hits, category, hit.end, following, pre=True)

    def _in_scope(self, hits: list[Hit], category: str, start: int, end: int, *, pre: bool) -> bool:
        if self._words_between(start, end) > (PRE_WINDOW if pre else POST_WINDOW):
            return False
        for hit in hits:
            if hit.start < start or hit.end > end:
                continue
            if category in hit.terminates or (pre and category in hit.terminates_pre):
                return False
            if category != FAMILY and hit.blocks(category):
                return False
        return True

    def patient_before(self, match: Match) -> bool:
        """The patient is named earlier in the mention's sentence ("FH: ... ; he has X")."""
        hits = self._hits.get(self._sentence_index(match.start), [])
        return any(h.end <= match.start and FAMILY in h.terminates_pre for h in hits)

    def questioned(self, match: Match) -> bool:
        """A question mark right before the mention, or ending its sentence."""
        if match.start > 0 and self.text[match.start - 1] == "?":
            return True
        end = self.ends[bisect.bisect_left(self.ends, match.end)]
        return self.text[:end].rstrip().endswith("?")


def assert_mentions(
    text: str,
    matches: Sequence[Match],
    rules: ContextRules | None = None,
) -> list[Mention]:
    """Mentions with their assertion status, one per match, in text order.

    Besides the trigger phrases, a family or negatives section and a "Finding: no" line form
    (:mod:`ocais.ingest.text.sections`) decide: a section makes its findings the family's or
    absent, a negative answer makes its finding absent.
    """
    answers = [negative_answer(text, match.end) for match in matches]
    document = _Document(text, matches, rules or DEFAULT_RULES, [a for a in answers if a])
    sections = find_sections(text)
    mentions = []
    for match, answer in zip(matches, answers, strict=True):
        flags = {category: document.applies(category, match) for category in CATEGORIES}
        if flags[NEGATED] == "post" and flags[UNCERTAIN] == "pre":
            flags[UNCERTAIN] = None  # "screening for X was negative": the result wins
        section = section_of(sections, match.start) if sections else None
        family = flags[FAMILY] is not None or (
            section == "family" and not document.patient_before(match)
        )
        mentions.append(
            Mention(
                id=match.term_id,
                label=match.label,
                text=text[match.start : match.end],
                start=match.start,
                end=match.end,
                excluded=flags[NEGATED] is not None or answer is not None or section == "negative",
                family=family,
                uncertain=flags[UNCERTAIN] is not None or document.questioned(match),
                matched=match.matched,
                confidence=match.confidence,
            )
        )
    return mentions


def to_observations(mentions: Iterable[Mention]) -> list[PhenotypeObservation]:
    """The patient's own, certain findings, once per term, in order of first mention.

    Family and uncertain mentions are left out. A term both asserted and negated in one text is
    kept as observed: a phenotype the patient had at any time is a phenotype (HPO convention).
    """
    observed: dict[str, PhenotypeObservation] = {}
    for mention in mentions:
        if mention.family or mention.uncertain:
            continue
        current = observed.get(mention.id)
        if current is None or (current.excluded and not mention.excluded):
            observed[mention.id] = PhenotypeObservation(
                id=mention.id, label=mention.label, excluded=mention.excluded
            )
    return list(observed.values())
