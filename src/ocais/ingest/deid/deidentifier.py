"""``Deidentifier``: clinical free text in, text that is safe to store and index out.

Every recognizer proposes candidates; overlapping candidates are merged into one replaced span
(the union, so no character of either survives) labelled by the longest proposal (ties: the
more specific). Dates become the same date shifted by the patient's number of days; ages over 89
become ``90+``; everything else becomes a typed placeholder such as ``[NAME]``.

Nothing here logs, and no result holds an original value: spans carry offsets, kind and the
replacement only.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from ocais.errors import InputTooLargeError, InvalidRecordError
from ocais.ingest.deid.dates import DateShifter, date_shift_days
from ocais.ingest.deid.known import find_known
from ocais.ingest.deid.models import Candidate, DeidConfig, DeidResult, PhiKind, PhiSpan
from ocais.ingest.deid.names import NameFinder, load_first_names
from ocais.ingest.deid.presidio_backend import PresidioPatterns
from ocais.ingest.deid.recognizers import PRIORITY_LABELLED, find_patterns, protected_spans

METHOD_VERSION = "ocais-deid-1"
_MERGE_ADJACENT = frozenset({PhiKind.NAME, PhiKind.ADDRESS})


class Deidentifier:
    """Replaces PHI in free text. Build once per configuration; ``deidentify`` is thread-safe.

    >>> deid = Deidentifier(DeidConfig(secret="a-long-random-site-secret"))
    >>> deid.deidentify("Seen by Dr. Smith.", patient_key="p1").text
    'Seen by Dr. [NAME].'
    """

    def __init__(self, config: DeidConfig) -> None:
        self.config = config
        first_names = load_first_names() if config.first_name_dictionary else frozenset()
        self._names = NameFinder(first_names)
        self._presidio = PresidioPatterns() if config.use_presidio else None
        parts = [METHOD_VERSION]
        if config.first_name_dictionary:
            parts.append("census1990-first-names")
        if config.use_presidio:
            parts.append("presidio-patterns")
        self.method = "+".join(parts)

    def shift_for(self, patient_key: str) -> int:
        """The number of days this patient's dates move (same key and secret → same shift)."""
        if not patient_key.strip():
            raise InvalidRecordError(
                "patient_key is blank",
                source="deidentify",
                field="patient_key",
                hint="pass a stable pseudonymous key of the patient (e.g. the case id)",
            )
        return date_shift_days(
            self.config.secret.get_secret_value(),
            patient_key,
            min_days=self.config.min_shift_days,
            max_days=self.config.max_shift_days,
        )

    def deidentify(
        self,
        text: str,
        *,
        patient_key: str,
        known_identifiers: Mapping[str, Sequence[str]] | None = None,
    ) -> DeidResult:
        """Replace the PHI in ``text``.

        ``known_identifiers`` maps a kind (``NAME``, ``ID``, ``PHONE``, ``ADDRESS``... or an
        alias such as ``mrn``, ``dob``, ``family_name``) to values from the structured record;
        each is replaced wherever it occurs, names case-insensitively and in all their forms.

        Raises ``InputTooLargeError`` over ``config.max_chars`` and ``InvalidRecordError`` for a
        blank ``patient_key`` or an unknown identifier kind.
        """
        if len(text) > self.config.max_chars:
            raise InputTooLargeError(
                f"text of {len(text):,} characters is over the limit of {self.config.max_chars:,}",
                hint="split the document, or raise max_chars in the de-identification config",
            )
        shift = self.shift_for(patient_key)
        candidates = self._candidates(text, shift, known_identifiers or {})
        spans = _resolve(text, candidates)
        return DeidResult(
            text=_render(text, spans),
            spans=spans,
            counts=dict(Counter(span.kind for span in spans)),
            date_shift_days=shift,
            method=self.method,
        )

    def _candidates(
        self, text: str, shift: int, known: Mapping[str, Sequence[str]]
    ) -> list[Candidate]:
        candidates: list[Candidate] = list(find_known(text, known))
        shifter = DateShifter(shift, self.config.day_first, self.config.shift_years_alone)
        candidates.extend(shifter.find(text))
        candidates.extend(find_patterns(text))
        if self._presidio is not None:
            candidates.extend(self._presidio.find(text))
        names = self._names.find(text)
        candidates.extend(names)
        if self.config.propagate_names:
            name_spans = [(c.start, c.end) for c in candidates if c.kind is PhiKind.NAME]
            candidates.extend(self._names.propagate(text, name_spans))
        return _unprotected(candidates, protected_spans(text))


def _unprotected(
    candidates: Iterable[Candidate], protected: Sequence[tuple[int, int]]
) -> list[Candidate]:
    """Drop unlabelled candidates that overlap a clinical notation (HGVS, HP:..., rs...)."""
    if not protected:
        return list(candidates)
    starts = [start for start, _ in protected]  # sorted, not overlapping (one finditer)
    kept = []
    for candidate in candidates:
        last = bisect.bisect_left(starts, candidate.end) - 1
        overlaps = last >= 0 and protected[last][1] > candidate.start
        if overlaps and candidate.priority < PRIORITY_LABELLED:
            continue
        kept.append(candidate)
    return kept


def _resolve(text: str, candidates: Sequence[Candidate]) -> list[PhiSpan]:
    """Merge overlapping candidates into replaced spans."""
    ordered = sorted(
        (c for c in candidates if c.end > c.start), key=lambda c: (c.start, -c.end, -c.priority)
    )
    groups: list[list[Candidate]] = []
    group_end = -1
    for candidate in ordered:
        if groups and candidate.start < group_end:
            groups[-1].append(candidate)
            group_end = max(group_end, candidate.end)
        else:
            groups.append([candidate])
            group_end = candidate.end
    spans: list[PhiSpan] = []
    for group in groups:
        start = group[0].start
        end = max(c.end for c in group)
        winner = max(group, key=lambda c: (c.end - c.start, c.priority))
        exact = winner.start == start and winner.end == end
        replacement = winner.replacement if exact and winner.replacement else _placeholder(winner)
        span = PhiSpan(kind=winner.kind, start=start, end=end, replacement=replacement)
        if spans and _adjacent(text, spans[-1], span):
            previous = spans.pop()
            span = PhiSpan(
                kind=span.kind, start=previous.start, end=span.end, replacement=span.replacement
            )
        spans.append(span)
    return spans


def _placeholder(candidate: Candidate) -> str:
    if candidate.kind is PhiKind.AGE_OVER_89:
        return "90+"
    return f"[{candidate.kind.value}]"


def _adjacent(text: str, previous: PhiSpan, current: PhiSpan) -> bool:
    """'[NAME] [NAME]' and '[ADDRESS], [ADDRESS]' read better as one placeholder."""
    if previous.kind is not current.kind or current.kind not in _MERGE_ADJACENT:
        return False
    gap = text[previous.end : current.start]
    return len(gap) <= 3 and gap.strip(" \t,") == ""


def _render(text: str, spans: Sequence[PhiSpan]) -> str:
    pieces: list[str] = []
    position = 0
    for span in spans:
        pieces.append(text[position : span.start])
        pieces.append(span.replacement)
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)
