"""Synthetic clinical notes with PLANTED identifiers, for measuring de-identification.

Values come from Faker (a dev/test dependency; imported here only) with a fixed seed, so a seed
always gives the same notes. Person names are drawn 60% from Faker's ``en_US`` lists (SSA baby
names and Census 2000 surnames: a different source from the Census 1990 first-name dictionary the
recognizer may use) and 40% from eight other locales (en_GB, es_ES, de_DE, fr_FR, it_IT, nl_NL,
pl_PL, pt_BR), so the dictionary cannot simply memorise the test names.

Each note is one patient's: the patient's own name appears without cues (sentence starts, first
name alone, 'Last, First', initials), as real notes do; clinicians and relatives appear with the
cues real notes give them (titles, signatures, relation words, credentials). Lines also carry
clinical wording whose survival measures precision.

Two template sets: ``dev``, which the recognizers were tuned on, and ``heldout``, written before
the first measurement on it and not tuned on since: its figures are the honest ones.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from ocais.errors import ConfigError
from ocais.ingest.deid.models import PhiKind
from ocais.ingest.deid.synthetic_templates import (
    CLINICAL_TERMS,
    DATE_FORMATS,
    HPO_LABELS,
    TEMPLATES,
)


def _words(text: str) -> frozenset[str]:
    """A set of words written as one string (readable word lists)."""
    return frozenset(text.split())


NAME_LOCALES = ("en_GB", "es_ES", "de_DE", "fr_FR", "it_IT", "nl_NL", "pl_PL", "pt_BR")
PHONE_LOCALES = ("en_US", "en_US", "en_US", "en_GB", "de_DE", "fr_FR")
_PARTICLES = _words(
    "van von der den de del della di da das dos du la le ter ten te het op zu zum vom dei degli "
    "delle lo las los do"
)
_FIELD = re.compile(r"\{(\w+)(?::([^}]*))?\}")
_AGE_WORDS: Mapping[int, str] = MappingProxyType(
    {90: "ninety", 91: "ninety-one", 92: "ninety-two", 93: "ninety-three"}
)
Style = Literal["dev", "heldout"]


@dataclass(frozen=True)
class Planted:
    """One identifier written into a note."""

    kind: PhiKind
    start: int
    end: int
    value: str
    tokens: tuple[str, ...]  # the parts that must not survive (besides the whole value)
    role: str = ""  # names: 'patient' or 'other' (clinician, relative)
    locale: str = ""  # names: the Faker locale the name was drawn from


@dataclass(frozen=True)
class PlantedTerm:
    """A clinical term that must survive."""

    start: int
    end: int
    value: str


@dataclass(frozen=True)
class SyntheticNote:
    text: str
    patient_key: str
    patient_name: str
    planted: tuple[Planted, ...]
    terms: tuple[PlantedTerm, ...]
    name_locale: str = "en_US"
    labelled: bool = True  # the note opens with 'Patient: <name>'
    style: str = "dev"


@dataclass
class _Note:
    """Builds one note: text pieces and where each planted value went."""

    rng: random.Random
    fakers: dict[str, Any]
    style: Style
    first: str
    last: str
    locale: str
    pronoun: tuple[str, str]
    parts: list[str] = field(default_factory=list)
    planted: list[Planted] = field(default_factory=list)
    terms: list[PlantedTerm] = field(default_factory=list)
    length: int = 0

    def text(self, value: str) -> None:
        self.parts.append(value)
        self.length += len(value)

    def phi(self, kind: PhiKind, value: str, tokens: tuple[str, ...] = (), **names: str) -> None:
        end = self.length + len(value)
        self.planted.append(Planted(kind, self.length, end, value, tokens, **names))
        self.text(value)

    def term(self, value: str) -> None:
        self.terms.append(PlantedTerm(self.length, self.length + len(value), value))
        self.text(value)

    def line(self, template: str) -> None:
        position = 0
        for m in _FIELD.finditer(template):
            self.text(template[position : m.start()])
            self.fill(m.group(1), m.group(2) or "")
            position = m.end()
        self.text(template[position:])

    def fill(self, name: str, arg: str) -> None:
        rng, us = self.rng, self.fakers["en_US"]
        if name == "patient":
            value = _patient_form(self.first, self.last, arg or "full")
            self.phi(PhiKind.NAME, value, _name_tokens(value), role="patient", locale=self.locale)
        elif name == "other":
            first, last, locale = _person(rng, self.fakers)
            value = f"{first} {last}" if arg != "last" else last
            self.phi(PhiKind.NAME, value, _name_tokens(value), role="other", locale=locale)
        elif name == "date":
            self.phi(
                PhiKind.DATE, _render_date(rng, us, arg or rng.choice(DATE_FORMATS[self.style]))
            )
        elif name == "id":
            pattern = arg or rng.choice(("########", "A#######", "##-###-###", "??#########"))
            self.phi(PhiKind.ID, us.bothify(pattern).upper())
        elif name == "ssn":
            self.phi(PhiKind.ID, us.ssn())
        elif name in {"phone", "fax"}:
            locale = rng.choice(PHONE_LOCALES) if name == "phone" else "en_US"
            kind = PhiKind.PHONE if name == "phone" else PhiKind.FAX
            self.phi(kind, self.fakers[locale].phone_number())
        elif name == "email":
            self.phi(PhiKind.EMAIL, us.email())
        elif name == "url":
            self.phi(PhiKind.URL, rng.choice((us.url(), us.uri())))
        elif name == "ip":
            self.phi(PhiKind.IP, rng.choice((us.ipv4(), us.ipv4_private(), us.ipv6())))
        elif name == "address":
            self._address(full=arg != "street")
        elif name == "age":
            age = rng.randint(90, 104)
            value = _AGE_WORDS.get(age, str(age)) if arg == "words" else str(age)
            self.phi(PhiKind.AGE_OVER_89, value, tuple(re.findall(r"\w+", value)))
        elif name == "hpo":
            self.term(rng.choice(HPO_LABELS))
        elif name == "term":
            self.term(rng.choice(CLINICAL_TERMS))
        elif name == "he":
            self.text(self.pronoun[0])
        elif name == "his":
            self.text(self.pronoun[1])
        else:
            raise ValueError(f"unknown template field {name!r}")

    def _address(self, *, full: bool) -> None:
        us = self.fakers["en_US"]
        street = us.street_address()
        words = street.split()
        # the suffix ('Street') and the state are not identifying; the rest is
        tokens = tuple(w for w in words[:-1] if w not in {"Apt.", "Suite"})
        if not full:
            self.phi(PhiKind.ADDRESS, street, tokens)
            return
        city, state, zipcode = us.city(), us.state_abbr(include_territories=False), us.zipcode()
        common = {"North", "South", "East", "West", "New", "Lake", "Port"}
        city_tokens = tuple(t for t in city.split() if t not in common)
        value = f"{street}, {city}, {state} {zipcode}"
        self.phi(PhiKind.ADDRESS, value, (*tokens, *city_tokens, zipcode))


def generate_notes(
    count: int, seed: int = 0, *, labelled: float = 0.5, style: Style = "dev"
) -> list[SyntheticNote]:
    """``count`` notes, the same for the same seed (needs the ``faker`` package).

    ``labelled`` is the share of notes that open with a 'Patient: <name>' line; in the others the
    patient's name appears only without cues, the hard case for recognizers.
    """
    try:
        from faker import Faker
    except ImportError:
        raise ConfigError(
            "generating synthetic notes needs the 'faker' package",
            hint="pip install -e '.[dev]'",
        ) from None
    fakers: dict[str, Any] = {}
    for offset, locale in enumerate(("en_US", *NAME_LOCALES)):
        fake = Faker(locale)
        fake.seed_instance(seed * 1000 + offset + (500 if style == "heldout" else 0))
        fakers[locale] = fake
    rng = random.Random(f"{style}-{seed}")
    return [_note(index, rng, fakers, style, rng.random() < labelled) for index in range(count)]


def _note(
    index: int, rng: random.Random, fakers: dict[str, Any], style: Style, labelled: bool
) -> SyntheticNote:
    first, last, locale = _person(rng, fakers)
    pronoun = rng.choice((("He", "his"), ("She", "her")))
    note = _Note(rng, fakers, style, first, last, locale, pronoun)
    templates = TEMPLATES[style]
    lines = [rng.choice(templates["header"])] if labelled else []
    lines += [rng.choice(templates["ids"]), "DOB: {date}"]
    lines += rng.sample(templates["body"], k=rng.randint(9, min(14, len(templates["body"]))))
    lines.append(rng.choice(templates["signature"]))
    for number, template in enumerate(lines):
        if number:
            note.text("\n")
        note.line(template)
    return SyntheticNote(
        text="".join(note.parts),
        patient_key=f"synthetic-{style}-{index}",
        patient_name=f"{first} {last}",
        planted=tuple(note.planted),
        terms=tuple(note.terms),
        name_locale=locale,
        labelled=labelled,
        style=style,
    )


def _person(rng: random.Random, fakers: dict[str, Any]) -> tuple[str, str, str]:
    locale = "en_US" if rng.random() < 0.6 else rng.choice(NAME_LOCALES)
    fake = fakers[locale]
    return fake.first_name(), fake.last_name(), locale


def _patient_form(first: str, last: str, form: str) -> str:
    forms = {
        "full": f"{first} {last}",
        "first": first,
        "last": last,
        "inverted": f"{last}, {first}",
        "upper": f"{last.upper()}, {first.upper()}",
        "initial": f"{first[0]}. {last}",
    }
    return forms[form]


def _name_tokens(name: str) -> tuple[str, ...]:
    words = re.findall(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", name)
    return tuple(w for w in words if len(w) > 1 and w.lower() not in _PARTICLES)


def _render_date(rng: random.Random, fake: Any, pattern: str) -> str:
    day = fake.date_between(start_date="-30y", end_date="today")
    value: str = day.strftime(pattern)
    if "{o}" in value:
        n = day.day
        suffix = "th" if 11 <= n <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        value = value.replace("{o}", suffix)
    return value
