"""Onset and sex compatibility between a patient and each disease, as log-score penalties.

Onset: the HPO onset classes (subtree of HP:0003674) annotated to a disease give the range of
ages at which it starts (e.g. "Adult onset" ≥ 16 years). A patient whose first feature began well
before or after that range, or who is younger than its earliest onset, is less likely to have it.
Sex: a disease whose sex-specific annotations all name one sex and make up most of its phenotype
annotations is treated as limited to that sex.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ocais.knowledge import KnowledgeBase
from ocais.knowledge.compile import ASPECT_CODES, SEX_CODES
from ocais.schemas import Case, Sex

# Age ranges (years) of the HPO onset classes; prenatal onset is below 0.
ONSET_YEARS: dict[str, tuple[float, float]] = {
    "HP:0030674": (-0.75, 0.0),  # Antenatal onset
    "HP:0011460": (-0.75, -0.6),  # Embryonal onset
    "HP:0011461": (-0.6, 0.0),  # Fetal onset
    "HP:0003577": (0.0, 0.0),  # Congenital onset
    "HP:0003623": (0.0, 28 / 365.25),  # Neonatal onset
    "HP:0003593": (28 / 365.25, 1.0),  # Infantile onset
    "HP:0011463": (1.0, 5.0),  # Childhood onset
    "HP:0003621": (5.0, 15.0),  # Juvenile onset
    "HP:0410280": (0.0, 15.0),  # Pediatric onset
    "HP:0003581": (16.0, 120.0),  # Adult onset
    "HP:0011462": (16.0, 40.0),  # Young adult onset
    "HP:0025708": (16.0, 19.0),  # Early young adult onset
    "HP:0025709": (19.0, 25.0),  # Intermediate young adult onset
    "HP:0025710": (25.0, 40.0),  # Late young adult onset
    "HP:0003596": (40.0, 60.0),  # Middle age onset
    "HP:0003584": (60.0, 120.0),  # Late onset
}


def onset_slack(age: float) -> float:
    """Tolerance around an onset boundary: reports of onset age are approximate."""
    return max(1.0, 0.5 * abs(age))


@dataclass
class Demographics:
    """Per-disease onset range and sex limitation, aligned with ``disease_rows``."""

    onset_low: npt.NDArray[np.float64]  # NaN where no onset is annotated
    onset_high: npt.NDArray[np.float64]
    limited_to: npt.NDArray[np.int8]  # 0 none, 1 female, 2 male (SEX_CODES)

    @classmethod
    def build(
        cls, kb: KnowledgeBase, disease_rows: npt.NDArray[np.int64], sex_share: float = 0.5
    ) -> Demographics:
        n_all = len(kb.disease_ids)
        low = np.full(n_all, np.nan)
        high = np.full(n_all, np.nan)
        disease = np.asarray(kb.array("ann_disease"))
        term = np.asarray(kb.array("ann_term"))
        aspect = np.asarray(kb.array("ann_aspect"))
        onset_terms = {kb.term_index[t]: r for t, r in ONSET_YEARS.items() if t in kb.term_index}
        for row in np.flatnonzero(aspect == ASPECT_CODES["C"]):
            years = onset_terms.get(int(term[row]))
            if years is not None:
                d = int(disease[row])
                low[d] = years[0] if math.isnan(low[d]) else min(low[d], years[0])
                high[d] = years[1] if math.isnan(high[d]) else max(high[d], years[1])
        phenotype = aspect == ASPECT_CODES["P"]
        sex = np.asarray(kb.array("ann_sex"))
        rows = np.bincount(disease[phenotype], minlength=n_all)
        female = np.bincount(disease[phenotype & (sex == SEX_CODES["female"])], minlength=n_all)
        male = np.bincount(disease[phenotype & (sex == SEX_CODES["male"])], minlength=n_all)
        limited = np.zeros(n_all, dtype=np.int8)
        share = np.divide(female + male, rows, out=np.zeros(n_all), where=rows > 0)
        limited[(female > 0) & (male == 0) & (share >= sex_share)] = SEX_CODES["female"]
        limited[(male > 0) & (female == 0) & (share >= sex_share)] = SEX_CODES["male"]
        # diseases unknown to the knowledge base (row -1, learned from cases) get no constraint
        low, high = np.append(low, np.nan), np.append(high, np.nan)
        limited = np.append(limited, np.int8(0))
        at = np.where(disease_rows >= 0, disease_rows, n_all)
        return cls(low[at], high[at], limited[at])

    def penalty(self, case: Case, onset_weight: float, sex_weight: float) -> np.ndarray:
        """Log-score penalties (≤ 0) for every disease."""
        result = np.zeros(self.onset_low.size)
        first_onset = earliest_onset(case)
        age = case.subject.age_years
        with np.errstate(invalid="ignore"):
            clash = np.zeros(self.onset_low.size, dtype=bool)
            if first_onset is not None:
                slack = onset_slack(first_onset)
                clash |= first_onset < self.onset_low - slack
                clash |= first_onset > self.onset_high + slack
            if age is not None:
                clash |= age < self.onset_low - onset_slack(age)
        result[clash] -= onset_weight
        sex_code = {Sex.FEMALE: SEX_CODES["female"], Sex.MALE: SEX_CODES["male"]}.get(
            case.subject.sex
        )
        if sex_code is not None:
            result[(self.limited_to > 0) & (self.limited_to != sex_code)] -= sex_weight
        return result


def earliest_onset(case: Case) -> float | None:
    """Earliest onset age (years) among observed phenotypes, from ages or onset classes."""
    ages = []
    for obs in case.phenotypes:
        if obs.excluded:
            continue
        if obs.onset_age_years is not None:
            ages.append(obs.onset_age_years)
        elif obs.onset_term in ONSET_YEARS:
            ages.append(ONSET_YEARS[obs.onset_term][0])
    return min(ages) if ages else None
