"""The seeded split by case within each cohort."""

from __future__ import annotations

from collections import Counter

import pytest

from ocais.errors import ConfigError
from ocais.loop import split_cases
from ocais.schemas import Case, Diagnosis, Provenance


def cases_of(sizes: dict[str, int]) -> list[Case]:
    return [
        Case(
            id=f"{cohort}-{i}",
            cohort=cohort,
            diagnoses=[Diagnosis(disease_id="OMIM:100001")],
            provenance=Provenance(source="test", source_format="test"),
        )
        for cohort, n in sizes.items()
        for i in range(n)
    ]


SIZES = {"big": 21, "mid": 6, "pair": 2, "three": 3, **{f"one{i}": 1 for i in range(40)}}


def test_every_cohort_of_two_or_more_is_on_both_sides() -> None:
    cases = cases_of(SIZES)
    train, holdout = split_cases(cases, holdout_fraction=0.5, seed=3)
    assert {c.id for c in train}.isdisjoint({c.id for c in holdout})
    assert len(train) + len(holdout) == len(cases)
    on_train, on_holdout = Counter(c.cohort for c in train), Counter(c.cohort for c in holdout)
    for cohort in ("big", "mid", "pair", "three"):
        assert on_train[cohort] >= 1 and on_holdout[cohort] >= 1
    assert on_holdout["mid"] == 3 and on_holdout["pair"] == 1
    assert on_holdout["big"] in (10, 11)
    # single-case cohorts go to a seeded side: both sides get some
    singles = [c for c in holdout if c.cohort and c.cohort.startswith("one")]
    assert 5 < len(singles) < 35


def test_split_is_seeded_and_independent_of_input_order() -> None:
    cases = cases_of(SIZES)
    first = split_cases(cases, seed=1)
    again = split_cases(list(reversed(cases)), seed=1)
    other = split_cases(cases, seed=2)
    assert [c.id for c in first[1]] == [c.id for c in again[1]]
    assert [c.id for c in first[1]] != [c.id for c in other[1]]


def test_fraction_and_case_mode() -> None:
    cases = cases_of({"big": 100})
    _, holdout = split_cases(cases, holdout_fraction=0.2, seed=0)
    assert len(holdout) == 20
    train, holdout = split_cases(cases_of(SIZES), by="case", holdout_fraction=0.5, seed=0)
    assert abs(len(holdout) - len(train)) <= 1
    with pytest.raises(ConfigError, match="strictly between"):
        split_cases(cases, holdout_fraction=0.0)
    with pytest.raises(ConfigError, match="repeat"):
        split_cases(cases + cases[:1])
