"""Dates: find them, shift them by a per-patient number of days, and keep their format.

The shift is ``HMAC-SHA256(site secret, patient key)`` mapped onto ``±[min_days, max_days]``, so the
same patient under the same secret always gets the same shift (intervals between a patient's dates
are kept, which clinical research needs) while the shift cannot be recomputed without the secret.
This is the date-shifting approach of most clinical de-identification systems (e.g. Philter,
Norgeot et al., npj Digit. Med. 2020; the Stanford STARR-OMOP pipeline); HIPAA Safe Harbor alone
would instead keep only the year.

Formats kept: ISO ``2021-03-04`` (with any time after it untouched), numeric ``03/04/2021``,
``3-4-21``, ``04.03.2021`` (dots read day-first), ``4 March 2021``, ``04-Mar-2021``,
``March 4, 2021``, ``Mar. 4th 2021``, day and month without a year (``March 4``), and month-level
dates (``Mar 2021``, ``03/2021``, ``2021-03``), which move by whole months (at least one).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

from ocais.ingest.deid.keyed import keyed_digest
from ocais.ingest.deid.models import Candidate, PhiKind
from ocais.ingest.deid.recognizers import PRIORITY_SPECIFIC

_SHIFT_DOMAIN = b"ocais-deid/date-shift/v1\x00"
# a leap year, so 29 February without a year shifts like any other day
_YEARLESS_REFERENCE = 2000
_DAYS_PER_MONTH = 30.436875

_MONTHS: Mapping[str, int] = MappingProxyType({
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
})  # fmt: skip
_MONTH_RE = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_ORD = r"(?:st|nd|rd|th)?"

_ISO = re.compile(r"(?<![\w/.-])(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?![\d])(?![/.-]\d)")
_NUMERIC = re.compile(r"(?<![\w/.:-])(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})(?![\w/-])(?!\.\d)")
_DAY_MONTH = re.compile(
    rf"(?<![\w/.-])(\d{{1,2}})({_ORD})([ \t]+(?:of[ \t]+)?|-)({_MONTH_RE})(\.?)"
    rf"(?:(,?[ \t]+|-)(\d{{4}}|'?\d{{2}})(?![\w/]))?(?![a-z])",
    re.IGNORECASE,
)
_MONTH_DAY = re.compile(
    rf"(?<![\w/.-])({_MONTH_RE})(\.?)([ \t]+)(\d{{1,2}})({_ORD})(?![\w/:]|[.,]\d)"
    rf"(?:(,[ \t]*|[ \t]+)(\d{{4}})(?![\w/]))?",
    re.IGNORECASE,
)
_MONTH_YEAR = re.compile(
    rf"(?<![\w/.-])({_MONTH_RE})(\.?)(,?[ \t]+|-)(\d{{4}}|'\d{{2}})(?![\w/])", re.IGNORECASE
)
_NUMERIC_MONTH_YEAR = re.compile(r"(?<![\w/.:-])(\d{1,2})([/-])(\d{4})(?![\w/-])")
_ISO_MONTH = re.compile(r"(?<![\w/.:-])((?:19|20)\d{2})-(0[1-9]|1[0-2])(?![\w/:-])")
_YEAR = re.compile(r"(?<![\w/.:-])((?:19|20)\d{2})(?![\w/:-])")


def date_shift_days(secret: str, patient_key: str, *, min_days: int, max_days: int) -> int:
    """The patient's shift: a keyed hash onto ``±[min_days, max_days]``; never 0."""
    digest = keyed_digest(secret, _SHIFT_DOMAIN, patient_key)
    magnitude = min_days + int.from_bytes(digest[:8], "big") % (max_days - min_days + 1)
    return -magnitude if digest[8] & 1 else magnitude


def shift_findings(findings: list[Any], secret: str, patient_key: str, config: Any) -> list[Any]:
    """A patient's findings with every date moved by the patient's keyed shift (intervals
    between them kept, never the real dates); ``config`` is the site's ``DeidConfig``."""
    days = date_shift_days(
        secret, patient_key, min_days=config.min_shift_days, max_days=config.max_shift_days
    )
    delta = dt.timedelta(days=days)
    return [
        f.model_copy(
            update={
                "date": None if f.date is None else f.date + delta,
                "end_date": None if f.end_date is None else f.end_date + delta,
            }
        )
        for f in findings
    ]


@dataclass(frozen=True, slots=True)
class DateShifter:
    """Finds dates in a text and proposes their shifted replacements."""

    shift_days: int
    day_first: bool = False
    shift_years_alone: bool = False

    @property
    def shift_months(self) -> int:
        months = round(self.shift_days / _DAYS_PER_MONTH)
        return months if months else (1 if self.shift_days > 0 else -1)

    @property
    def shift_years(self) -> int:
        years = round(self.shift_days / 365.2425)
        return years if years else (1 if self.shift_days > 0 else -1)

    def find(self, text: str) -> Iterator[Candidate]:
        """Every date in ``text``; overlapping proposals are resolved by the caller."""
        for finder in (
            self._iso,
            self._numeric,
            self._day_month,
            self._month_day,
            self._month_year,
            self._numeric_month_year,
            self._iso_month,
        ):
            yield from finder(text)
        if self.shift_years_alone:
            for match in _YEAR.finditer(text):
                year = int(match.group(1)) + self.shift_years
                yield _date(match.start(), match.end(), str(year))

    def _shift(self, year: int, month: int, day: int) -> date | None:
        try:
            return date(year, month, day) + timedelta(days=self.shift_days)
        except (ValueError, OverflowError):
            return None  # not a calendar date (e.g. 31/02): not ours

    def _iso(self, text: str) -> Iterator[Candidate]:
        for m in _ISO.finditer(text):
            year, sep, month, day = m.group(1), m.group(2), m.group(3), m.group(4)
            new = self._shift(int(year), int(month), int(day))
            if new is not None and 1800 <= int(year) <= 2200:
                out = f"{new.year:04d}{sep}{_pad(new.month, month)}{sep}{_pad(new.day, day)}"
                yield _date(m.start(), m.end(), out)

    def _numeric(self, text: str) -> Iterator[Candidate]:
        for m in _NUMERIC.finditer(text):
            first, sep, second, year = m.group(1), m.group(2), m.group(3), m.group(4)
            a, b = int(first), int(second)
            # dots are European (day first); else the configured order, unless it cannot be
            day_first = self.day_first or sep == "."
            if (b if day_first else a) > 12:
                day_first = not day_first
            day, month = (a, b) if day_first else (b, a)
            new = self._shift(_full_year(year), month, day)
            if new is None:
                continue
            new_year = str(new.year) if len(year) == 4 else f"{new.year % 100:02d}"
            if day_first:
                out = f"{_pad(new.day, first)}{sep}{_pad(new.month, second)}{sep}{new_year}"
            else:
                out = f"{_pad(new.month, first)}{sep}{_pad(new.day, second)}{sep}{new_year}"
            yield _date(m.start(), m.end(), out)

    def _day_month(self, text: str) -> Iterator[Candidate]:
        for m in _DAY_MONTH.finditer(text):
            day, ordinal, gap, month_word, dot = m.group(1, 2, 3, 4, 5)
            year_gap, year = m.group(6), m.group(7)
            if not _month_word_ok(month_word, dot, has_year=year is not None):
                continue
            new = self._shift(
                _full_year(year) if year else _YEARLESS_REFERENCE,
                _MONTHS[month_word.lower()],
                int(day),
            )
            if new is None:
                continue
            out = f"{_pad(new.day, day)}{_ordinal(new.day, ordinal)}{gap}"
            out += _month_name(new.month, month_word) + dot
            if year:
                out += year_gap + _render_year(new.year, year)
            yield _date(m.start(), m.end(), out)

    def _month_day(self, text: str) -> Iterator[Candidate]:
        for m in _MONTH_DAY.finditer(text):
            month_word, dot, gap, day, ordinal = m.group(1, 2, 3, 4, 5)
            year_gap, year = m.group(6), m.group(7)
            if not _month_word_ok(month_word, dot, has_year=year is not None):
                continue
            new = self._shift(
                int(year) if year else _YEARLESS_REFERENCE, _MONTHS[month_word.lower()], int(day)
            )
            if new is None:
                continue
            out = f"{_month_name(new.month, month_word)}{dot}{gap}"
            out += f"{_pad(new.day, day)}{_ordinal(new.day, ordinal)}"
            if year:
                out += f"{year_gap}{new.year}"
            yield _date(m.start(), m.end(), out)

    def _month_year(self, text: str) -> Iterator[Candidate]:
        for m in _MONTH_YEAR.finditer(text):
            month_word, dot, gap, year = m.group(1, 2, 3, 4)
            if not _month_word_ok(month_word, dot, has_year=True):
                continue
            new_year, new_month = self._add_months(_full_year(year), _MONTHS[month_word.lower()])
            out = f"{_month_name(new_month, month_word)}{dot}{gap}{_render_year(new_year, year)}"
            yield _date(m.start(), m.end(), out)

    def _numeric_month_year(self, text: str) -> Iterator[Candidate]:
        for m in _NUMERIC_MONTH_YEAR.finditer(text):
            month, sep, year = m.group(1), m.group(2), m.group(3)
            if 1 <= int(month) <= 12 and 1800 <= int(year) <= 2200:
                new_year, new_month = self._add_months(int(year), int(month))
                yield _date(m.start(), m.end(), f"{_pad(new_month, month)}{sep}{new_year}")

    def _iso_month(self, text: str) -> Iterator[Candidate]:
        for m in _ISO_MONTH.finditer(text):
            new_year, new_month = self._add_months(int(m.group(1)), int(m.group(2)))
            yield _date(m.start(), m.end(), f"{new_year:04d}-{new_month:02d}")

    def _add_months(self, year: int, month: int) -> tuple[int, int]:
        index = year * 12 + (month - 1) + self.shift_months
        return index // 12, index % 12 + 1


def _date(start: int, end: int, replacement: str) -> Candidate:
    # a valid calendar date beats a phone number of the same length ('04.03.2021')
    return Candidate(PhiKind.DATE, start, end, replacement, PRIORITY_SPECIFIC + 2)


def _month_word_ok(word: str, dot: str, *, has_year: bool) -> bool:
    """Reject 'may'/'mar' as verbs: a month is capitalized, upper case, or followed by a year."""
    if word[0].isupper():
        return True
    return has_year and word.lower() not in {"may", "mar"}


def _full_year(year: str) -> int:
    digits = year.lstrip("'")
    if len(digits) == 4:
        return int(digits)
    value = int(digits)
    # two-digit years: 00-49 → 2000s, 50-99 → 1900s (only leap years and the century depend on it)
    return 2000 + value if value < 50 else 1900 + value


def _render_year(new_year: int, original: str) -> str:
    if len(original.lstrip("'")) == 4:
        return str(new_year)
    return ("'" if original.startswith("'") else "") + f"{new_year % 100:02d}"


def _pad(value: int, original: str) -> str:
    return f"{value:02d}" if len(original) == 2 else str(value)


def _ordinal(day: int, original_suffix: str) -> str:
    if not original_suffix:
        return ""
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return suffix.upper() if original_suffix.isupper() else suffix


def _month_name(month: int, original: str) -> str:
    """The new month in the style of the original: full or abbreviated, and its case."""
    full = calendar.month_name[month]
    if len(original) <= 4 and original.lower() not in {"june", "july"}:
        name = "Sept" if original.lower() == "sept" and month == 9 else full[:3]
    else:
        name = full
    if original.isupper():
        return name.upper()
    if original.islower():
        return name.lower()
    return name
