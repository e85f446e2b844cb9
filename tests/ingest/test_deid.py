"""De-identification: every kind on hand-written notes, date shifting, known identifiers, limits,
and recall on generated notes with planted identifiers (see ``ocais.ingest.deid.synthetic``)."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
import re

import pytest

from ocais.errors import ConfigError, InputTooLargeError, InvalidRecordError
from ocais.ingest.deid import (
    AGE_TOP_CODE,
    DeidConfig,
    Deidentifier,
    DeidResult,
    PhiKind,
    date_shift_days,
    pseudonymous_id,
    top_code_ages,
)
from ocais.schemas import Case, PhenotypeObservation, Provenance, Subject

SECRET = "test-secret-not-for-production-0123"


@pytest.fixture(scope="module")
def deid() -> Deidentifier:
    return Deidentifier(DeidConfig(secret=SECRET))


def run(deid: Deidentifier, text: str, key: str = "patient-1", **kwargs: object) -> DeidResult:
    return deid.deidentify(text, patient_key=key, **kwargs)  # type: ignore[arg-type]


def kinds(result: DeidResult) -> set[PhiKind]:
    return {span.kind for span in result.spans}


def assert_gone(result: DeidResult, *values: str) -> None:
    for value in values:
        assert value not in result.text, f"{value!r} survived in {result.text!r}"


# --- every kind -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Seen by Dr. Alvarez today.", PhiKind.NAME, "Alvarez"),
        ("Mrs. O'Neil reports fatigue.", PhiKind.NAME, "O'Neil"),
        ("Discussed with Prof. van der Berg.", PhiKind.NAME, "Berg"),
        ("Patient: Maria Gonzalez", PhiKind.NAME, "Gonzalez"),
        ("Name: SMITH, JOHN", PhiKind.NAME, "SMITH"),
        ("Electronically signed by: Priya Raman, MD", PhiKind.NAME, "Raman"),
        ("Signed by Tomasz Nowak on admission.", PhiKind.NAME, "Nowak"),
        ("His mother, Keiko Tanaka, reports seizures.", PhiKind.NAME, "Tanaka"),
        ("Case discussed with Olu Adeyemi, RN.", PhiKind.NAME, "Adeyemi"),
        ("Jennifer Walsh was seen for hypotonia.", PhiKind.NAME, "Walsh"),
        ("MRN: 00123456", PhiKind.ID, "00123456"),
        ("Medical record number A1234567 on file.", PhiKind.ID, "A1234567"),
        ("SSN 078-05-1121", PhiKind.ID, "078-05-1121"),
        ("Insurance ID: XJH882910331", PhiKind.ID, "XJH882910331"),
        ("Account # 99-1234567", PhiKind.ID, "99-1234567"),
        ("Reference 77341200 attached.", PhiKind.ID, "77341200"),
        ("Card 4111 1111 1111 1111 on file.", PhiKind.ID, "4111 1111 1111 1111"),
        ("Call (617) 555-0123 ext. 44.", PhiKind.PHONE, "555-0123"),
        ("Mobile +44 20 7946 0958.", PhiKind.PHONE, "7946 0958"),
        ("Tel 617.555.0199", PhiKind.PHONE, "555.0199"),
        ("Fax: 617-555-0142", PhiKind.FAX, "555-0142"),
        ("Please fax to (212) 555-0100.", PhiKind.FAX, "555-0100"),
        ("Mail jane.doe+clinic@example.org today.", PhiKind.EMAIL, "jane.doe"),
        ("See https://portal.example.com/patient?id=5 for results.", PhiKind.URL, "portal"),
        ("Info at www.familysupport.org/rare.", PhiKind.URL, "familysupport"),
        ("Blog at myfamilystory.net about us.", PhiKind.URL, "myfamilystory"),
        ("Login from 203.0.113.54 flagged.", PhiKind.IP, "203.0.113.54"),
        ("Login from 2001:db8:85a3::8a2e:370:7334 flagged.", PhiKind.IP, "8a2e"),
        ("Lives at 742 Evergreen Terrace, Springfield, IL 62704.", PhiKind.ADDRESS, "Evergreen"),
        ("Address: 12 W 42nd St Apt 5B", PhiKind.ADDRESS, "42nd"),
        ("Mail to PO Box 4471.", PhiKind.ADDRESS, "4471"),
        ("Moved to Duluth, Minnesota last year.", PhiKind.ADDRESS, "Duluth"),
        ("A 92-year-old woman with dementia.", PhiKind.AGE_OVER_89, "92"),
    ],
)
def test_every_kind_is_replaced(deid: Deidentifier, text: str, kind: PhiKind, value: str) -> None:
    result = run(deid, text)
    assert kind in kinds(result), result
    assert_gone(result, value)


def test_placeholders_are_typed(deid: Deidentifier) -> None:
    result = run(deid, "Dr. Alvarez, MRN 12345678, phone 617-555-0123, a@b.org, 10.0.0.1")
    assert result.text == "Dr. [NAME], MRN [ID], phone [PHONE], [EMAIL], [IP]"
    assert result.counts == {
        PhiKind.NAME: 1,
        PhiKind.ID: 1,
        PhiKind.PHONE: 1,
        PhiKind.EMAIL: 1,
        PhiKind.IP: 1,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A 92-year-old woman", "A 90+-year-old woman"),
        ("grandfather, aged 95, has ataxia", "grandfather, aged 90+, has ataxia"),
        ("age 91", "age 90+"),
        ("a 101 y/o man", "a 90+ y/o man"),
        ("she is ninety-three years old", "she is 90+ years old"),
        ("died at 97 of pneumonia", "died at 90+ of pneumonia"),
        ("a 45-year-old man, aged 89", "a 45-year-old man, aged 89"),
    ],
)
def test_ages_over_89_become_90_plus(deid: Deidentifier, text: str, expected: str) -> None:
    assert run(deid, text).text == expected


def test_clinical_notations_are_not_ids(deid: Deidentifier) -> None:
    text = (
        "Variant NM_000218.3:c.1234A>G p.(Arg412Ter) (rs113993960) in SCN1A; HP:0001250, "
        "OMIM:607208, ORPHA:33069, chr7:117559590, 46,XY. Platelets 250,000/uL, BP 118/76, "
        "weight 12.4 kg, allele frequency 0.00002, Down syndrome, Charles Bonnet syndrome."
    )
    result = run(deid, text)
    assert result.text == text, result.spans


# --- dates ------------------------------------------------------------------------------------


def shifted(deid: Deidentifier, text: str, key: str = "patient-1") -> str:
    return run(deid, text, key).text


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("2021-03-04", r"\d{4}-\d{2}-\d{2}"),
        ("2021-03-04T10:15", r"\d{4}-\d{2}-\d{2}T10:15"),
        ("03/04/2021", r"\d{2}/\d{2}/\d{4}"),
        ("3/4/21", r"\d{1,2}/\d{1,2}/\d{2}"),
        ("04.03.2021", r"\d{2}\.\d{2}\.\d{4}"),
        ("4 March 2021", r"\d{1,2} [A-Z][a-z]+ \d{4}"),
        ("04-Mar-2021", r"\d{2}-[A-Z][a-z]{2}-\d{4}"),
        ("March 4, 2021", r"[A-Z][a-z]+ \d{1,2}, \d{4}"),
        ("Mar. 4th, 2021", r"[A-Z][a-z]{2}\. \d{1,2}(st|nd|rd|th), \d{4}"),
        ("Mar 2021", r"[A-Z][a-z]{2} \d{4}"),
        ("March 4", r"[A-Z][a-z]+ \d{1,2}"),
        ("03/2021", r"\d{2}/\d{4}"),
    ],
)
def test_dates_keep_their_format(deid: Deidentifier, text: str, pattern: str) -> None:
    out = shifted(deid, f"Seen on {text}.")
    assert text not in out
    assert re.fullmatch(rf"Seen on {pattern}\.", out), out


def test_date_shift_is_exact_and_per_patient(deid: Deidentifier) -> None:
    from datetime import date, timedelta

    result = run(deid, "Admitted 2021-03-04, discharged 2021-03-09.", "patient-7")
    shift = result.date_shift_days
    assert shift != 0 and 1 <= abs(shift) <= 365
    first = date(2021, 3, 4) + timedelta(days=shift)
    second = date(2021, 3, 9) + timedelta(days=shift)
    assert result.text == f"Admitted {first.isoformat()}, discharged {second.isoformat()}."
    # the same patient always moves the same way; the interval is kept
    assert run(deid, "2021-03-04", "patient-7").text == first.isoformat()


def test_date_shift_differs_across_patients_and_secrets() -> None:
    shifts = {date_shift_days(SECRET, f"p{i}", min_days=1, max_days=365) for i in range(50)}
    assert len(shifts) > 40 and 0 not in shifts
    other = {date_shift_days(SECRET + "x", f"p{i}", min_days=1, max_days=365) for i in range(50)}
    assert shifts != other
    assert date_shift_days(SECRET, "p1", min_days=1, max_days=365) == date_shift_days(
        SECRET, "p1", min_days=1, max_days=365
    )


def test_shift_range_is_configurable() -> None:
    deid = Deidentifier(DeidConfig(secret=SECRET, min_shift_days=10, max_shift_days=20))
    shifts = [deid.shift_for(f"p{i}") for i in range(100)]
    assert all(10 <= abs(s) <= 20 for s in shifts)
    assert any(s < 0 for s in shifts) and any(s > 0 for s in shifts)
    with pytest.raises(ValueError, match="min_shift_days"):
        DeidConfig(secret=SECRET, min_shift_days=30, max_shift_days=20)


def test_years_alone_are_kept_unless_configured() -> None:
    text = "Seizures began in 2019."
    assert Deidentifier(DeidConfig(secret=SECRET)).deidentify(text, patient_key="p").text == text
    moved = Deidentifier(DeidConfig(secret=SECRET, shift_years_alone=True))
    out = moved.deidentify(text, patient_key="p").text
    assert out != text and re.fullmatch(r"Seizures began in (2018|2020)\.", out)


def test_day_first_setting() -> None:
    us = Deidentifier(DeidConfig(secret=SECRET, min_shift_days=1, max_shift_days=1))
    eu = Deidentifier(DeidConfig(secret=SECRET, min_shift_days=1, max_shift_days=1, day_first=True))
    key = next(k for k in (f"k{i}" for i in range(20)) if us.shift_for(k) == 1)
    assert us.deidentify("03/04/2021", patient_key=key).text == "03/05/2021"
    assert eu.deidentify("03/04/2021", patient_key=key).text == "04/04/2021"
    assert us.deidentify("25/04/2021", patient_key=key).text == "26/04/2021"  # cannot be US


# --- known identifiers ------------------------------------------------------------------------


def test_known_names_in_every_form(deid: Deidentifier) -> None:
    text = (
        "DOE, JOHN seen. Doe, John tolerated it; J. Doe and john doe agree. "
        "John's mother and JD's sister called. Mr. Doe returns."
    )
    result = run(deid, text, known_identifiers={"NAME": ["John Doe"]})
    assert_gone(result, "Doe", "DOE", "John", "john", "doe", "J. ", "JD")
    assert result.text.count("[NAME]") >= 7
    assert "mother" in result.text and "returns" in result.text


def test_known_ids_match_with_other_separators(deid: Deidentifier) -> None:
    result = run(
        deid,
        "Chart 0012-3456 and 00123456 and ref 12 (no match)",
        known_identifiers={"mrn": ["00123456"], "phone": ["617-555-0123"]},
    )
    assert result.text.startswith("Chart [ID] and [ID]")
    assert "12 (no match)" in result.text


def test_known_address_parts(deid: Deidentifier) -> None:
    result = run(
        deid,
        "Family moved from 9 Elm Row in Smalltown last spring.",
        known_identifiers={"ADDRESS": ["9 Elm Row, Smalltown"]},
    )
    assert_gone(result, "Elm", "Smalltown")


def test_unknown_identifier_kind_is_refused(deid: Deidentifier) -> None:
    with pytest.raises(InvalidRecordError, match="favourite_colour"):
        run(deid, "text", known_identifiers={"favourite_colour": ["blue"]})


# --- results, limits, safety ------------------------------------------------------------------


def test_offsets_point_into_the_original(deid: Deidentifier) -> None:
    text = "Dr. Alvarez saw Jennifer Walsh on 2021-03-04; call 617-555-0123. Age 93."
    result = run(deid, text)
    rebuilt, position = [], 0
    for span in result.spans:
        assert 0 <= span.start < span.end <= len(text) and span.start >= position
        rebuilt += [text[position : span.start], span.replacement]
        position = span.end
    assert "".join([*rebuilt, text[position:]]) == result.text
    assert [text[s.start : s.end] for s in result.spans] == [
        "Alvarez",
        "Jennifer Walsh",
        "2021-03-04",
        "617-555-0123",
        "93",
    ]


def test_result_never_holds_original_values(deid: Deidentifier) -> None:
    result = run(deid, "Dr. Alvarez, MRN 12345678", known_identifiers={"NAME": ["Ana Ruiz"]})
    dumped = result.model_dump_json()
    assert "Alvarez" not in dumped and "12345678" not in dumped and "Ruiz" not in dumped


def test_empty_text(deid: Deidentifier) -> None:
    result = run(deid, "")
    assert result.text == "" and result.spans == [] and result.counts == {}
    assert result.date_shift_days != 0


def test_text_over_the_limit_is_refused() -> None:
    deid = Deidentifier(DeidConfig(secret=SECRET, max_chars=1000))
    assert deid.deidentify("x" * 1000, patient_key="p").text == "x" * 1000
    with pytest.raises(InputTooLargeError, match="max_chars"):
        deid.deidentify("x" * 1001, patient_key="p")
    assert DeidConfig(secret=SECRET).max_chars == 200_000


def test_blank_patient_key_is_refused(deid: Deidentifier) -> None:
    with pytest.raises(InvalidRecordError, match="patient_key"):
        run(deid, "text", key="  ")


@pytest.mark.parametrize(
    "text",
    [
        "Le patient a été vu le 12 mars 2021 à Paris par le Dr Lefèvre.",
        "Der Patient wurde am 04.03.2021 von Frau Dr. Müller gesehen.",
        "患者は2021年3月4日に発作を起こした。田中医師が診察。",
        "Пациент Иванов поступил 04.03.2021, тел. +7 495 123-45-67.",
        "المريض أحمد يعاني من نوبات منذ ٢٠١٩",
        "emoji 🧬🧠 and control chars \x00\x01\t\r\n mixed ﬁ ligature",
    ],
)
def test_non_english_text_does_not_crash(deid: Deidentifier, text: str) -> None:
    result = run(deid, text)
    assert isinstance(result.text, str)
    assert "04.03.2021" not in result.text
    assert "Müller" not in result.text and "Lefèvre" not in result.text


def test_secret_is_never_shown() -> None:
    config = DeidConfig(secret=SECRET)
    assert SECRET not in repr(config) and SECRET not in config.model_dump_json()
    with pytest.raises(ValueError) as caught:
        DeidConfig(secret="changeme")
    assert "changeme" not in str(caught.value)


def test_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCAIS_DEID_SECRET", SECRET)
    assert DeidConfig.from_env(max_chars=10).max_chars == 10
    monkeypatch.delenv("OCAIS_DEID_SECRET")
    with pytest.raises(ConfigError, match="OCAIS_DEID_SECRET"):
        DeidConfig.from_env()
    monkeypatch.setenv("OCAIS_DEID_SECRET", "short")
    with pytest.raises(ConfigError) as caught:
        DeidConfig.from_env()
    assert "short" not in str(caught.value).replace("shorter", "")


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        DeidConfig(secret=SECRET, shift=3)  # type: ignore[call-arg]


def test_nothing_is_logged(deid: Deidentifier, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        run(deid, "Dr. Alvarez, MRN 12345678, 2021-03-04")
    assert caplog.records == []


def test_without_first_name_dictionary() -> None:
    deid = Deidentifier(DeidConfig(secret=SECRET, first_name_dictionary=False))
    assert "census" not in deid.method
    assert deid.deidentify("Seen by Dr. Alvarez.", patient_key="p").text == "Seen by Dr. [NAME]."


def test_bare_initials_skip_clinical_abbreviations(deid: Deidentifier) -> None:
    known = {"NAME": ["Brian Park"]}
    text = "BP 118/76, B.P. 120/80"
    assert run(deid, text, known_identifiers=known).text == text
    assert run(deid, "JD seen", known_identifiers={"NAME": ["John Doe"]}).text == "[NAME] seen"


def test_use_presidio_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)
    with pytest.raises(ConfigError, match="deid-presidio"):
        Deidentifier(DeidConfig(secret=SECRET, use_presidio=True))


@pytest.mark.slow
def test_presidio_patterns_offline() -> None:
    pytest.importorskip("presidio_analyzer")
    deid = Deidentifier(DeidConfig(secret=SECRET, use_presidio=True))
    assert deid.method.endswith("+presidio-patterns")
    result = deid.deidentify(
        "Mail jane@example.org or call 617-555-0123 on 2021-03-04.", patient_key="p"
    )
    assert result.text.startswith("Mail [EMAIL] or call [PHONE] on ")
    assert "2021-03-04" not in result.text


# --- structured fields: record ids and ages ---------------------------------------------------


def test_date_shifts_and_record_pseudonyms_share_one_keyed_hash() -> None:
    """The shift is still HMAC-SHA256 over its own domain (stored shifts stay valid)."""
    digest = hmac.new(SECRET.encode(), b"ocais-deid/date-shift/v1\x00p1", hashlib.sha256).digest()
    magnitude = 1 + int.from_bytes(digest[:8], "big") % 365
    expected = -magnitude if digest[8] & 1 else magnitude
    assert date_shift_days(SECRET, "p1", min_days=1, max_days=365) == expected
    pseudonym = pseudonymous_id(SECRET, "p1")
    assert re.fullmatch(r"h:[0-9a-f]{24}", pseudonym)
    assert pseudonym != "h:" + digest.hex()[:24]  # another domain: unrelated to the shift
    assert pseudonymous_id(SECRET, "p1") == pseudonym != pseudonymous_id(SECRET + "x", "p1")
    assert pseudonymous_id(DeidConfig(secret=SECRET).secret, "p1") == pseudonym


@pytest.mark.parametrize(
    ("age", "onset", "birth_year", "top_coded"),
    [
        (89.9, 3.0, 1936, False),  # 89.9 is still 89
        (90.0, 3.0, 1936, True),
        (104.2, 91.5, 1920, True),
        (None, 95.0, 1960, True),  # an onset over 89 tells the age too
        (None, None, 1936, False),
        (None, None, 1935, True),  # born 90 years ago: over 89 now
        (60.0, None, 1930, True),  # the recorded age stays; the year of birth goes
    ],
)
def test_ages_over_89_become_one_category(
    age: float | None, onset: float | None, birth_year: int, top_coded: bool
) -> None:
    case = Case(
        id="c1",
        subject=Subject(age_years=age, birth_year=birth_year),
        phenotypes=[PhenotypeObservation(id="HP:0001250", onset_age_years=onset)],
        provenance=Provenance(source="s", source_format="test"),
    )
    assert top_code_ages(case, today=datetime.date(2025, 6, 1)) is case
    assert case.provenance.parameters.get("age_top_coded", False) is top_coded
    assert case.subject.birth_year == (None if top_coded else birth_year)
    assert case.subject.age_years == (None if age is None else min(age, AGE_TOP_CODE))
    assert case.phenotypes[0].onset_age_years == (None if onset is None else min(onset, 90.0))
