"""Builders of small synthetic and source case lists for the privacy and release tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ocais.schemas import Case, Diagnosis, PhenotypeObservation, Provenance


def make_case(
    case_id: str,
    disease: str | None,
    observed: Sequence[str],
    excluded: Sequence[str] = (),
    *,
    synthetic: bool = False,
) -> Case:
    phenotypes = [PhenotypeObservation(id=t) for t in observed]
    phenotypes += [PhenotypeObservation(id=t, excluded=True) for t in excluded]
    return Case(
        id=case_id,
        phenotypes=phenotypes,
        diagnoses=[] if disease is None else [Diagnosis(disease_id=disease)],
        synthetic=synthetic,
        provenance=Provenance(source="test", source_format="test", record_id=case_id),
    )


def copies(cases: Sequence[Case], prefix: str = "copy") -> list[Case]:
    """The same cases, marked synthetic under new ids (what a leaking generator emits)."""
    return [
        c.model_copy(update={"id": f"{prefix}-{i}", "synthetic": True}) for i, c in enumerate(cases)
    ]


def random_cases(
    rng: np.random.Generator,
    n: int,
    terms: Sequence[str],
    diseases: Sequence[str],
    *,
    prefix: str,
    synthetic: bool = False,
    **kwargs: Any,
) -> list[Case]:
    """``n`` cases, each a disease drawn uniformly and 4–12 observed and 0–2 excluded terms
    drawn from the disease's own slice of ``terms`` (so diseases differ, cases within one
    disease overlap)."""
    width = len(terms) // len(diseases)
    cases = []
    for i in range(n):
        d = int(rng.integers(len(diseases)))
        pool = list(terms[d * width : (d + 1) * width])
        chosen = rng.choice(len(pool), size=int(rng.integers(4, 13)) + 2, replace=False)
        n_excluded = int(rng.integers(0, 3))
        observed = [pool[j] for j in chosen[n_excluded:]]
        excluded = [pool[j] for j in chosen[:n_excluded]]
        cases.append(
            make_case(f"{prefix}-{i}", diseases[d], observed, excluded, synthetic=synthetic)
        )
    return cases
