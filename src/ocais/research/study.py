"""A comparative-effectiveness study: its definition (YAML) and its cohort, extracted from the
store's cases (their dated findings: conditions, medications, procedures, observations,
encounters), with the attrition of every criterion.

Design (new users, as OHDSI's CohortMethod): the index date is a person's first exposure to the
target or the comparator; persons exposed to both are left out; the observation period is the
first to the last dated record; ``washout_days`` of observation are required before the index
date, the indication on or before it, and no outcome before it. Time at risk runs from
``index + time_at_risk_days[0]`` to ``index + time_at_risk_days[1]`` or the end of observation,
whichever comes first; the outcome is its first occurrence in that window. Covariates
(``auto``): age at index, sex, and every condition and drug seen before the index date in at
least ``min_covariate_share`` of the cohort (target and comparator drugs and the outcome left
out).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ocais.errors import ConfigError
from ocais.schemas import Case, FindingCategory, Sex

#: code prefixes of a study → the system names findings carry
SYSTEMS = {
    "RXNORM": "RXNORM",
    "SNOMED": "SNOMEDCT",
    "SNOMEDCT": "SNOMEDCT",
    "ICD10CM": "ICD10CM",
    "LOINC": "LOINC",
    "CPT": "CPT",
}
_CODE = re.compile(r"^([A-Za-z0-9_]+):(\S+)$")
EXAMPLE = "configs/study-example.yaml"
#: the example study (the same text as configs/study-example.yaml; a test keeps them equal)
EXAMPLE_YAML = """\
# A comparative-effectiveness study on this site's records:
#   ocais study run configs/study-example.yaml --out DIR
# Codes: RxNorm:, SNOMED:, ICD10CM:, LOINC:, CPT:, HP:, MONDO:
name: warfarin-vs-apixaban-stroke
description: Stroke after starting warfarin or apixaban for atrial fibrillation (new users).
target: {medications: ["RxNorm:11289"]}          # warfarin
comparator: {medications: ["RxNorm:1364430"]}    # apixaban
indication: {conditions: ["SNOMED:49436004"]}    # atrial fibrillation, on or before the index date
outcome: {conditions: ["SNOMED:230690007"]}      # stroke
time_at_risk_days: [1, 1095]                     # from the index date (first exposure)
washout_days: 365                                # observation required before the index date
covariates: auto                                 # age, sex, prior conditions and drugs
method: iptw                                     # or ps-match, ps-stratify
population: {min_age: 18}
negative_controls: ["SNOMED:25064002", "SNOMED:161891005", "SNOMED:44465007"]
"""


def parse_code(text: str) -> tuple[str, str]:
    """``RxNorm:11289`` → (``RXNORM``, ``11289``); ``HP:0001250`` and ``MONDO:0005148`` stay
    whole (matched against a finding's HPO terms / MONDO disease)."""
    match = _CODE.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a code: write SYSTEM:CODE, e.g. RxNorm:11289")
    prefix, code = match[1].upper(), match[2]
    if prefix in ("HP", "MONDO"):
        return prefix, f"{prefix}:{code}"
    if prefix not in SYSTEMS:
        raise ValueError(
            f"unknown code system {match[1]!r} in {text!r}: use RxNorm, SNOMED, ICD10CM, LOINC, "
            "CPT, HP or MONDO"
        )
    return SYSTEMS[prefix], code


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Criterion(_Strict):
    """Codes that define an exposure, an indication or an outcome (any one of them matches)."""

    medications: list[str] = Field(default_factory=list)
    conditions: list[str] = Field(default_factory=list)
    procedures: list[str] = Field(default_factory=list)
    observations: list[str] = Field(default_factory=list)

    @field_validator("medications", "conditions", "procedures", "observations")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        for code in value:
            parse_code(code)
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Criterion:
        if not (self.medications or self.conditions or self.procedures or self.observations):
            raise ValueError(
                "name at least one code (medications, conditions, procedures, observations)"
            )
        return self

    def codes(self) -> dict[FindingCategory, set[tuple[str, str]]]:
        pairs = {
            FindingCategory.MEDICATION: self.medications,
            FindingCategory.CONDITION: self.conditions,
            FindingCategory.PROCEDURE: self.procedures,
            FindingCategory.OBSERVATION: self.observations,
        }
        return {k: {parse_code(c) for c in v} for k, v in pairs.items() if v}


class Population(_Strict):
    min_age: float | None = Field(default=None, ge=0, le=150)
    max_age: float | None = Field(default=None, ge=0, le=150)
    sex: Literal["female", "male"] | None = None


class Study(_Strict):
    """A study definition (``ocais study run STUDY.yaml``); see configs/study-example.yaml."""

    name: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    target: Criterion
    comparator: Criterion
    outcome: Criterion
    indication: Criterion | None = None
    time_at_risk_days: tuple[int, int] = (1, 1095)
    washout_days: int = Field(default=365, ge=0)
    covariates: Literal["auto"] | list[str] = "auto"
    min_covariate_share: float = Field(default=0.01, ge=0, lt=1)
    max_covariates: int = Field(default=200, ge=1)
    method: Literal["iptw", "ps-match", "ps-stratify"] = "iptw"
    population: Population = Field(default_factory=Population)
    negative_controls: list[str] = Field(
        default_factory=list, description="Condition codes believed not caused by either drug"
    )
    seed: int = 0

    @field_validator("time_at_risk_days")
    @classmethod
    def _window(cls, value: tuple[int, int]) -> tuple[int, int]:
        start, end = value
        if start < 0 or end <= start:
            raise ValueError("time_at_risk_days is [start, end] in days, 0 <= start < end")
        return value

    @field_validator("negative_controls")
    @classmethod
    def _controls(cls, value: list[str]) -> list[str]:
        for code in value:
            parse_code(code)
        return value


def load_study(path: Path) -> Study:
    """Read and check a study YAML file; unknown keys and bad values are refused with the fix."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"no study definition at {path}", hint=f"start from {EXAMPLE}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return parse_study(text, str(path))


def parse_study(text: str, origin: str = "the study") -> Study:
    """A study from YAML (or JSON) text."""
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - the research extra
        raise ConfigError(
            "studies need the research extra", hint="pip install 'ocais[research]'"
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot read {origin} as YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{origin} must hold a mapping (name, target, comparator, outcome, …)")
    try:
        return Study.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "(top)"
            if error["type"] == "extra_forbidden":
                problems.append(f"{where}: unknown key (remove it; see {EXAMPLE})")
            else:
                problems.append(f"{where}: {error['msg']}")
        raise ConfigError(
            f"{origin} is not a valid study: " + "; ".join(problems), hint=f"see {EXAMPLE}"
        ) from exc


# --- extraction -------------------------------------------------------------------------------
def _matches(finding: Any, wanted: dict[FindingCategory, set[tuple[str, str]]]) -> bool:
    codes = wanted.get(finding.category)
    if not codes:
        return False
    if (finding.system, finding.code) in codes:
        return True
    if finding.mondo_id and ("MONDO", finding.mondo_id) in codes:
        return True
    return any(("HP", h) in codes for h in finding.hpo_ids)


def _first(case: Case, wanted: dict[FindingCategory, set[tuple[str, str]]]) -> dt.date | None:
    dates = [f.date for f in case.findings if f.date is not None and _matches(f, wanted)]
    return min(dates) if dates else None


@dataclass
class Subject:
    """One person of the cohort (never an identifier: the row order is random-free but local)."""

    treatment: int
    time: float
    event: int
    age: float | None
    female: int
    prior: set[str]  # covariate keys seen before the index date
    controls: dict[str, tuple[float, int]] = field(default_factory=dict)


@dataclass
class Extracted:
    subjects: list[Subject]
    attrition: list[dict[str, Any]]
    covariates: list[str]


def extract(study: Study, batches: Iterable[list[Case]]) -> Extracted:
    """The cohort of ``study`` from the store's cases (batches of them), with attrition."""
    target, comparator = study.target.codes(), study.comparator.codes()
    outcome = study.outcome.codes()
    indication = study.indication.codes() if study.indication else None
    controls = {c: {FindingCategory.CONDITION: {parse_code(c)}} for c in study.negative_controls}
    excluded_keys = {
        _key(cat, system, code)
        for wanted in (target, comparator, outcome)
        for cat, pairs in wanted.items()
        for system, code in pairs
    }
    counts: Counter[str] = Counter()
    steps = [
        "persons with dated records",
        "exposed to the target or the comparator",
        "not exposed to both",
        f"{study.washout_days} days of observation before the index date",
        "the indication on or before the index date",
        "age and sex criteria",
        "no outcome before the index date",
        "time at risk after the index date",
    ]
    subjects: list[Subject] = []
    start, end_days = study.time_at_risk_days
    for batch in batches:
        for case in batch:
            dated = [f for f in case.findings if f.date is not None]
            if not dated:
                continue
            counts[steps[0]] += 1
            t_date, c_date = _first(case, target), _first(case, comparator)
            if t_date is None and c_date is None:
                continue
            counts[steps[1]] += 1
            if t_date is not None and c_date is not None:
                continue
            counts[steps[2]] += 1
            index = t_date or c_date
            assert index is not None
            first_seen = min(f.date for f in dated if f.date is not None)
            last_seen = max(d for f in dated for d in (f.date, f.end_date) if d is not None)
            if (index - first_seen).days < study.washout_days:
                continue
            counts[steps[3]] += 1
            if indication is not None:
                found = [f.date for f in dated if _matches(f, indication)]
                if not any(d is not None and d <= index for d in found):
                    continue
            counts[steps[4]] += 1
            age = _age_at(case, index)
            pop = study.population
            if (pop.min_age is not None and (age is None or age < pop.min_age)) or (
                pop.max_age is not None and (age is None or age > pop.max_age)
            ):
                continue
            if pop.sex is not None and case.subject.sex != Sex(pop.sex):
                continue
            counts[steps[5]] += 1
            outcome_dates = sorted(f.date for f in dated if f.date and _matches(f, outcome))
            if any(d < index for d in outcome_dates):
                continue
            counts[steps[6]] += 1
            risk_start = index + dt.timedelta(days=start)
            risk_end = min(index + dt.timedelta(days=end_days), last_seen)
            if risk_end <= risk_start:
                continue
            counts[steps[7]] += 1
            time, event = _at_risk(outcome_dates, risk_start, risk_end)
            prior = {
                _key(f.category, f.system, f.code)
                for f in dated
                if f.date is not None
                and f.date < index
                and f.category in (FindingCategory.CONDITION, FindingCategory.MEDICATION)
            } - excluded_keys
            subject = Subject(
                treatment=1 if t_date is not None else 0,
                time=time,
                event=event,
                age=age,
                female=1 if case.subject.sex == Sex.FEMALE else 0,
                prior=prior,
            )
            for name, wanted in controls.items():
                dates = sorted(f.date for f in dated if f.date and _matches(f, wanted))
                if any(d < index for d in dates):
                    continue  # had it before: not at risk of a first occurrence
                subject.controls[name] = _at_risk(dates, risk_start, risk_end)
            subjects.append(subject)
    attrition = [{"step": step, "persons": counts[step]} for step in steps]
    return Extracted(subjects, attrition, _covariates(study, subjects))


def _at_risk(dates: list[dt.date], start: dt.date, end: dt.date) -> tuple[float, int]:
    for d in dates:
        if start <= d <= end:
            return float(max((d - start).days, 0) + 0.5), 1
    return float((end - start).days), 0


def _key(category: FindingCategory, system: str, code: str) -> str:
    kind = "drug" if category is FindingCategory.MEDICATION else "condition"
    return f"{kind}:{system}:{code}"


def _age_at(case: Case, index: dt.date) -> float | None:
    if case.subject.birth_year is not None:
        return float(index.year - case.subject.birth_year)
    return case.subject.age_years


def _covariates(study: Study, subjects: list[Subject]) -> list[str]:
    if isinstance(study.covariates, list):
        return list(study.covariates)
    counts: Counter[str] = Counter(k for s in subjects for k in s.prior)
    floor = max(1, int(study.min_covariate_share * len(subjects)))
    frequent = [k for k, n in counts.most_common() if n >= floor and n < len(subjects)]
    return ["age", "female", *frequent[: study.max_covariates]]


def cohort_frame(extracted: Extracted) -> tuple[Any, dict[str, tuple[Any, Any]]]:
    """The cohort as the engine takes it: a DataFrame (treatment, time, event, covariates) and
    the negative controls' (time, event) arrays."""
    import numpy as np
    import pandas as pd

    subjects = extracted.subjects
    rows: dict[str, Any] = {
        "treatment": [s.treatment for s in subjects],
        "time": [s.time for s in subjects],
        "event": [s.event for s in subjects],
    }
    ages = [s.age for s in subjects]
    known = [a for a in ages if a is not None]
    fill = float(np.median(known)) if known else 0.0
    for name in extracted.covariates:
        if name == "age":
            rows[name] = [a if a is not None else fill for a in ages]
        elif name == "female":
            rows[name] = [s.female for s in subjects]
        else:
            rows[name] = [1 if name in s.prior else 0 for s in subjects]
    frame = pd.DataFrame(rows)
    names = sorted({n for s in subjects for n in s.controls})
    controls = {}
    for name in names:
        at_risk = [s.controls.get(name) for s in subjects]
        keep = np.array([r is not None for r in at_risk])
        time = np.array([r[0] if r else 0.0 for r in at_risk])
        event = np.array([r[1] if r else 0 for r in at_risk])
        controls[name] = (np.where(keep, time, np.nan), event)
    return frame, controls
