"""Identifiers the caller already knows (the record's own name, MRN, phone...): always replaced.

Names match case-insensitively as whole words, each part on its own ('Smith', 'John') and in every
arrangement those parts make ('Doe, John', 'J. Doe', 'Doe J', 'J.D.'); ids and phone numbers match
with or without their separators ('00123456' = '0012-3456'); other values literally, with any
spacing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType

from ocais.errors import InvalidRecordError
from ocais.ingest.deid.models import Candidate, PhiKind
from ocais.ingest.deid.names import NAME_PARTICLES
from ocais.ingest.deid.recognizers import PRIORITY_KNOWN


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ALIASES: Mapping[PhiKind, str] = MappingProxyType(
    {
        PhiKind.NAME: "names first_name given_name given last_name family_name family surname"
        " middle_name maiden_name alias nickname full_name patient_name",
        PhiKind.ID: "ids mrn ssn account account_number insurance_id member_id record_number"
        " identifier identifiers medical_record_number",
        PhiKind.PHONE: "telephone phone_number mobile",
        PhiKind.FAX: "fax_number",
        PhiKind.EMAIL: "e-mail mail",
        PhiKind.URL: "website",
        PhiKind.IP: "ip_address",
        PhiKind.ADDRESS: "street city zip zip_code postal_code postcode",
        PhiKind.DATE: "dob birth_date birthdate date_of_birth",
    }
)
_KEY_ALIASES: Mapping[str, PhiKind] = MappingProxyType(
    {kind.value.lower(): kind for kind in PhiKind}
    | {alias: kind for kind, aliases in _ALIASES.items() for alias in aliases.split()}
)
_NAME_PART = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_PARTICLES = NAME_PARTICLES
# bare initials that are also common clinical abbreviations ('BP' for Brian Park)
_CLINICAL_ABBREVIATIONS = _words(
    "BP HR RR CT MR MD DO PT OT ER ED GI GU HB PE MS CP CF DM HD PD AD ID IV IM PO PR SC OD OS "
    "OU LP UA US NG NJ GT TB HIV HPI ROS CBC BMP CMP LFT TSH ECG EKG EEG EMG MRI ICU NICU PICU "
    "OR SLP ENT AFO ASD VSD PDA PFO ADHD ASD CP GERD UTI URI RSV BMI HC OFC DOB MRN SSN"
)
_GAP = r"[ \t]*[,.]?[ \t]+|[ \t]*,[ \t]*|\.[ \t]*"


def kind_for_key(key: str) -> PhiKind:
    """The kind a ``known_identifiers`` key stands for (a PhiKind name or a common alias)."""
    kind = _KEY_ALIASES.get(key.strip().lower().replace(" ", "_"))
    if kind is None:
        raise InvalidRecordError(
            f"unknown kind of identifier {key!r}",
            source="known_identifiers",
            field=key,
            hint=f"use one of {', '.join(kind.value for kind in PhiKind)} (or e.g. 'mrn', 'dob')",
        )
    return kind


def find_known(text: str, known: Mapping[str, Sequence[str]]) -> Iterator[Candidate]:
    """Every occurrence of every known identifier, as highest-priority candidates."""
    patterns: list[tuple[PhiKind, str]] = []
    for key, values in known.items():
        kind = kind_for_key(key)
        if isinstance(values, str):
            values = [values]  # a lone string is one value, not its characters
        for value in values:
            if value and value.strip():
                patterns.extend((kind, pattern) for pattern in _patterns(kind, value))
    for kind, pattern in patterns:
        for m in re.finditer(pattern, text, re.IGNORECASE):
            if m.end() > m.start():
                yield Candidate(kind, m.start(), m.end(), None, PRIORITY_KNOWN)


def _patterns(kind: PhiKind, value: str) -> list[str]:
    if kind is PhiKind.NAME:
        return _name_patterns(value)
    alnum = re.sub(r"\W", "", value)
    if kind in {PhiKind.ID, PhiKind.PHONE, PhiKind.FAX} and len(alnum) >= 3:
        flexible = r"[ \t./()-]{0,2}".join(re.escape(char) for char in alnum)
        return [rf"(?<![\w]){flexible}(?![\w])"]
    words = [re.escape(word) for word in re.findall(r"\w+", value)]
    if not words:
        return []
    patterns = [r"(?<!\w)" + r"[^\w\n]{1,4}".join(words) + r"(?!\w)"]
    if kind is PhiKind.ADDRESS:
        # each comma-separated part alone: the street line, the city
        for part in value.split(","):
            part_words = [re.escape(word) for word in re.findall(r"\w+", part)]
            if part_words and (len(part_words) > 1 or len(part_words[0]) > 3):
                patterns.append(r"(?<!\w)" + r"[^\w\n]{1,4}".join(part_words) + r"(?!\w)")
    return patterns


def _name_patterns(value: str) -> list[str]:
    parts = [part for part in _NAME_PART.findall(value) if part.lower() not in _PARTICLES]
    if not parts:
        return []
    boundary_before, boundary_after = r"(?<!\w)", r"(?!\w)"
    patterns = [
        boundary_before + re.escape(part) + boundary_after for part in parts if len(part) > 1
    ]
    initials = [part[0] for part in parts]
    others = "|".join(re.escape(part) for part in parts if len(part) > 1)
    if others:
        initial = "|".join(re.escape(letter) for letter in sorted(set(initials)))
        # 'J. Doe', 'J Doe', 'J. R. Doe', 'Doe, J.', 'Doe J'
        patterns.append(
            rf"{boundary_before}(?:(?:{initial})(?:{_GAP}))+(?:{others}){boundary_after}"
        )
        patterns.append(
            rf"{boundary_before}(?:{others})(?:{_GAP})(?:(?:{initial})\.?[ \t]*)+(?!\w)"
        )
    joined = "".join(initials).upper()
    if len(initials) >= 2 and joined not in _CLINICAL_ABBREVIATIONS:
        # 'J.D.', 'J. D.', 'JD' (the last only upper case, checked by the caller's case-insensitive
        # search being narrowed here with an inline flag)
        dotted = r"\.[ \t]?".join(re.escape(letter) for letter in initials) + r"\."
        patterns.append(rf"(?<!\w){dotted}")
        patterns.append(rf"(?-i:(?<!\w){re.escape(joined)}(?!\w))")
    return patterns
