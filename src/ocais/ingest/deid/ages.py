"""Ages over 89 become one category, "90 or older", stored as the number 90.

HIPAA Safe Harbor (45 CFR 164.514(b)(2)(i)(C)) removes "all ages over 89 and all elements of dates
(including year) indicative of such age", which "may be aggregated into a single category of age
90 or older". Notes already say "90+" after de-identification; :func:`top_code_ages` does the same
for the structured fields of a case, and every reader calls it on every case it builds.
"""

from __future__ import annotations

from datetime import date

from ocais.schemas import Case

AGE_TOP_CODE = 90.0
"""Stored for any age of 90 years or more; it means "90 or older", not "exactly 90"."""


def is_over_89(age_years: float | None) -> bool:
    """An age of 90 completed years or more (89.9 is still 89)."""
    return age_years is not None and age_years >= AGE_TOP_CODE


def top_code_ages(case: Case, *, today: date | None = None) -> Case:
    """Store every age over 89 of ``case`` as :data:`AGE_TOP_CODE`, in place; return the case.

    The subject's age and the phenotypes' onset ages are top-coded, and the birth year is dropped
    with them (it would tell the age again). A birth year 90 or more years before ``today``
    (default: the current date) is dropped too, whatever the recorded age: it says the patient
    is over 89 now. When anything changed, ``provenance.parameters`` gets
    ``"age_top_coded": True``; the original values are kept nowhere.
    """
    subject = case.subject
    onsets = [p for p in case.phenotypes if is_over_89(p.onset_age_years)]
    year = (today or date.today()).year
    born_long_ago = subject.birth_year is not None and year - subject.birth_year >= AGE_TOP_CODE
    if not onsets and not is_over_89(subject.age_years) and not born_long_ago:
        return case
    if is_over_89(subject.age_years):
        subject.age_years = AGE_TOP_CODE
    for phenotype in onsets:
        phenotype.onset_age_years = AGE_TOP_CODE
    subject.birth_year = None
    case.provenance.parameters["age_top_coded"] = True
    return case
