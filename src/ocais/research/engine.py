"""The statistical engine of comparative-effectiveness studies, as OHDSI's CohortMethod runs them.

Pure functions over numpy arrays and a pandas cohort frame: propensity scores, preference-score
equipoise, inverse probability weighting / matching / stratification, covariate balance, Kaplan–
Meier and Cox outcome models, the minimum detectable relative risk, negative-control calibration,
and the diagnostics gate that withholds an estimate the study cannot support. How the cohort was
extracted is not this module's business: ``run_analysis`` takes a frame with ``treatment`` (1
target, 0 comparator), ``time`` (days at risk, > 0), ``event`` (0/1) and covariate columns.

References
    Rosenbaum & Rubin 1983 (propensity score); Walker et al. 2013, Comparative Effectiveness
    Research 3:11-20 (preference score, equipoise in [0.3, 0.7]); Austin 2011, Pharmaceutical
    Statistics 10:150-161 (caliper 0.2 SD of the logit); Austin & Stuart 2015, Statistics in
    Medicine 34:3661-3679 (weighted balance, stabilized weights); Hong 2010 (marginal mean
    weighting through stratification); Austin 2013, Statistics in Medicine 32:2837-2849 (robust
    variance of marginal hazard ratios); Schoenfeld 1983, Biometrics 39:499-503 (MDRR); Schuemie et
    al. 2014, Statistics in Medicine 33:209-218 (empirical null, calibrated p-values); Schuemie et
    al. 2023, BMC Medical Research Methodology (OHDSI study diagnostics, EASE).

Heavy libraries (lifelines, scikit-learn, scipy, pandas, matplotlib) are imported inside the
functions that use them; importing this module loads only numpy and pydantic.
"""

from __future__ import annotations

import heapq
import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ocais.errors import OcaisError

if TYPE_CHECKING:
    import pandas as pd

Method = Literal["iptw", "ps-match", "ps-stratify"]
METHODS: tuple[str, ...] = ("iptw", "ps-match", "ps-stratify")
EQUIPOISE_BOUNDS = (0.3, 0.7)
#: inverse regularization strengths tried by the propensity model's cross-validation
PS_CS = tuple(float(c) for c in np.logspace(-4, 4, 10))
KM_POINTS = 200
LOVE_PLOT_ROWS = 40
BALANCE_TABLE_ROWS = 50
#: the per-subject and per-day fields of AnalysisResult (left out by ``to_json(arrays=False)``)
ARRAY_FIELDS = (
    "ps_target",
    "ps_comparator",
    "preference_target",
    "preference_comparator",
    "km",
    "km_naive",
)


class StudyDataError(OcaisError, ValueError):
    """The cohort frame cannot be analysed (a column is missing or holds invalid values, an arm
    is empty); the message names the column and the fix."""

    code = "study_data_invalid"


# ---------------------------------------------------------------------------------------------
# result types


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Thresholds(_Model):
    """The diagnostics gate (OHDSI's defaults, Schuemie et al. 2023)."""

    max_smd: float = Field(0.1, description="largest |SMD| of any covariate after adjustment")
    min_equipoise: float = Field(0.2, description="share with preference score in [0.3, 0.7]")
    max_mdrr: float = Field(10.0, description="largest minimum detectable relative risk")
    max_ease: float = Field(0.25, description="largest EASE, when negative controls are given")
    min_events_per_arm: int = Field(1, description="outcome events needed in each arm")
    min_events: int = Field(5, description="outcome events needed in both arms together")


class Estimate(_Model):
    """A hazard ratio (target vs comparator) with its 95% confidence interval and p-value."""

    hr: float
    ci: tuple[float, float]
    p: float
    log_hr: float
    se_log_hr: float


class Diagnostics(_Model):
    """The gate's verdict: ``passed``, and one line per failed check in ``reasons``."""

    passed: bool
    reasons: list[str]
    failed: list[str] = Field(description="names of the failed checks")
    max_smd_before: float | None
    max_smd_after: float | None
    equipoise: float
    mdrr: float
    ease: float | None
    events: int
    events_target: int
    events_comparator: int
    n_target: int
    n_comparator: int
    thresholds: Thresholds


class BalanceRow(_Model):
    covariate: str
    smd_before: float
    smd_after: float


class KaplanMeier(_Model):
    """Survival per arm on a common grid of days (weighted when ``weighted``)."""

    timeline: list[float]
    survival_target: list[float]
    survival_comparator: list[float]
    weighted: bool


class ControlEstimate(_Model):
    name: str
    estimate: Estimate | None = Field(description="None when the control is not estimable")
    events: int


class EmpiricalNull(_Model):
    """The distribution of systematic error: log HR of a null effect ~ N(mean, sd²)."""

    mean: float
    sd: float
    n_controls: int


class Calibration(_Model):
    controls: list[ControlEstimate]
    null: EmpiricalNull | None
    ease: float | None
    p: float | None = Field(None, description="calibrated p-value (None when withheld)")
    ci: tuple[float, float] | None = Field(None, description="calibrated 95% CI of the HR")


class AnalysisResult(_Model):
    """Everything one analysis produced: estimates, diagnostics, balance, the score
    distributions and curves the report draws, negative controls, and the software versions."""

    method: str
    seed: int
    covariates: list[str]
    n_subjects: int
    n_target: int
    n_comparator: int
    estimate: Estimate | None = Field(description="the adjusted HR; None when withheld")
    naive: Estimate | None = Field(description="the unadjusted HR (None if not estimable)")
    diagnostics: Diagnostics
    balance: list[BalanceRow]
    ps_target: list[float]
    ps_comparator: list[float]
    preference_target: list[float]
    preference_comparator: list[float]
    km: KaplanMeier = Field(description="adjusted Kaplan-Meier curves")
    km_naive: KaplanMeier
    calibration: Calibration | None
    software: dict[str, str]

    def to_json(self, *, arrays: bool = True) -> dict[str, Any]:
        """A JSON-safe dict (NaN and infinities become None; ``json.dumps(...,
        allow_nan=False)`` accepts it). ``arrays=False`` leaves out the per-subject score arrays
        and the Kaplan-Meier curves."""
        data = self.model_dump(mode="python", exclude=None if arrays else set(ARRAY_FIELDS))
        safe: dict[str, Any] = _json_safe(data)
        return safe


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


# ---------------------------------------------------------------------------------------------
# propensity scores and equipoise


def propensity_scores(X: Any, treatment: Any, *, seed: int = 0, folds: int = 5) -> np.ndarray:
    """P(target | covariates) from an L2-regularized logistic regression on standardized
    covariates, its strength C chosen among ``PS_CS`` by stratified ``folds``-fold
    cross-validation of the log loss (as OHDSI's Cyclops chooses its prior variance), then refit
    on everyone. Each fold walks the path of C warm-started (about 3x faster than a grid search)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    features = np.asarray(X, dtype=float)
    t = _binary(treatment, "treatment")
    if features.ndim != 2 or features.shape[0] != t.size:
        raise StudyDataError(
            f"covariates have shape {features.shape}, expected ({t.size}, k)",
            hint="pass one row per subject",
        )
    share = float(t.mean())
    if features.shape[1] == 0 or share in (0.0, 1.0):
        return np.full(t.size, share)
    best = 1.0
    smallest = int(min(t.sum(), t.size - t.sum()))
    if smallest >= 2:
        losses = np.zeros(len(PS_CS))
        splitter = StratifiedKFold(min(folds, smallest), shuffle=True, random_state=seed)
        for train, test in splitter.split(features, t):
            scaler = StandardScaler().fit(features[train])
            fold_train, fold_test = (
                scaler.transform(features[train]),
                scaler.transform(features[test]),
            )
            model = LogisticRegression(warm_start=True, max_iter=2000)
            for i, c in enumerate(PS_CS):
                model.set_params(C=c).fit(fold_train, t[train])
                predicted = model.predict_proba(fold_test)[:, 1]
                losses[i] += log_loss(t[test], predicted, labels=[0, 1]) * test.size
        best = PS_CS[int(np.argmin(losses))]
    scaler = StandardScaler().fit(features)
    final = LogisticRegression(C=best, max_iter=2000).fit(scaler.transform(features), t)
    scores: np.ndarray = final.predict_proba(scaler.transform(features))[:, 1]
    return scores


def _logit(p: np.ndarray) -> np.ndarray:
    from scipy.special import logit

    clipped = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
    result: np.ndarray = logit(clipped)
    return result


def preference_scores(ps: Any, treatment: Any) -> np.ndarray:
    """The propensity score with the arms' sizes factored out (Walker et al. 2013):
    logit(F) = logit(PS) − logit(P), P the share of subjects in the target arm."""
    from scipy.special import expit

    t = _binary(treatment, "treatment")
    scores = np.asarray(ps, dtype=float)
    if scores.shape != t.shape:
        raise StudyDataError(
            f"{scores.size} propensity scores for {t.size} subjects", hint="pass one per subject"
        )
    share = float(np.clip(t.mean(), 1e-12, 1 - 1e-12))
    result: np.ndarray = expit(_logit(scores) - math.log(share / (1 - share)))
    return result


def equipoise(pref: Any, bounds: tuple[float, float] = EQUIPOISE_BOUNDS) -> float:
    """Share of subjects whose preference score lies in ``bounds`` (Walker et al. 2013; OHDSI
    asks for at least 0.2)."""
    values = np.asarray(pref, dtype=float)
    if values.size == 0:
        return 0.0
    return float(np.mean((values >= bounds[0]) & (values <= bounds[1])))


# ---------------------------------------------------------------------------------------------
# adjustment: weights (0 = left out) usable by balance and the outcome model


def iptw_weights(
    ps: Any,
    treatment: Any,
    *,
    stabilized: bool = True,
    trim: float = 0.0,
    max_weight: float | None = 10.0,
) -> np.ndarray:
    """Inverse probability of treatment weights for the average treatment effect: 1/PS for the
    target arm, 1/(1−PS) for the comparator, times the arm's share when ``stabilized`` (Austin &
    Stuart 2015). Subjects with PS outside [trim, 1−trim] get weight 0; weights above
    ``max_weight`` are truncated to it (OHDSI's ``truncateIptw``, default 10)."""
    p = np.asarray(ps, dtype=float)
    t = _binary(treatment, "treatment")
    p_clipped = np.clip(p, 1e-12, 1 - 1e-12)
    share = float(t.mean()) if stabilized else 1.0
    other = 1 - float(t.mean()) if stabilized else 1.0
    weights = np.where(t == 1, share / p_clipped, other / (1 - p_clipped))
    if trim > 0:
        weights[(p < trim) | (p > 1 - trim)] = 0.0
    if max_weight is not None:
        weights = np.minimum(weights, max_weight)
    return weights


def matched_sets(ps: Any, treatment: Any, *, caliper: float = 0.2, ratio: int = 1) -> np.ndarray:
    """Greedy nearest-neighbour matching on the logit of the PS without replacement, within
    ``caliper`` standard deviations of the logit PS (Austin 2011), closest pairs first (MatchIt's
    ``m.order = "closest"``: taking target subjects in PS order instead leaves the scarce
    high-PS comparators to the first ones and pairs the rest at the caliper's edge). ``ratio``
    rounds give each target subject up to ``ratio`` comparators (one unmatched in a round is not
    offered more). Returns the matched-set id of every subject, −1 for the unmatched."""
    t = _binary(treatment, "treatment")
    logits = _logit(np.asarray(ps, dtype=float))
    width = caliper * float(np.std(logits))
    sets = np.full(t.size, -1, dtype=int)
    targets = np.flatnonzero(t == 1)
    targets = targets[np.argsort(-logits[targets], kind="stable")]
    comparators = np.flatnonzero(t == 0)
    order = np.argsort(logits[comparators], kind="stable")
    comparators, values = comparators[order], logits[comparators[order]]
    m = comparators.size
    # "next free slot" pointers with path halving, to the right (m = none) and left (-1 = none)
    right = np.arange(m + 1)
    left = np.arange(-1, m)  # left[i + 1] is the candidate at or left of i

    def free_right(i: int) -> int:
        while right[i] != i:
            right[i] = right[right[i]]
            i = int(right[i])
        return i

    def free_left(i: int) -> int:
        while left[i + 1] != i:
            left[i + 1] = left[left[i + 1] + 1]
            i = int(left[i + 1])
        return i

    positions = np.searchsorted(values, logits[targets])

    def nearest(k: int) -> tuple[float, int]:
        best, gap = -1, math.inf
        for j in (free_right(int(positions[k])), free_left(int(positions[k]) - 1)):
            if 0 <= j < m and abs(values[j] - logits[targets[k]]) < gap:
                best, gap = j, abs(values[j] - logits[targets[k]])
        return gap, best

    active = np.ones(targets.size, dtype=bool)
    for _ in range(max(1, ratio)):
        queue = [(*nearest(k), k) for k in np.flatnonzero(active).tolist()]
        heapq.heapify(queue)
        matched = np.zeros(targets.size, dtype=bool)
        while queue:
            gap, j, k = heapq.heappop(queue)
            if gap > width or j < 0:
                break  # every pair left is farther apart than the caliper
            if free_right(j) != j:  # taken by a closer pair since: look again
                heapq.heappush(queue, (*nearest(k), k))
                continue
            sets[comparators[j]] = sets[targets[k]] = k
            matched[k] = True
            right[j] = j + 1
            left[j + 1] = j - 1
        active &= matched
    return sets


def match(ps: Any, treatment: Any, *, caliper: float = 0.2, ratio: int = 1) -> np.ndarray:
    """Weights of :func:`matched_sets`: 1 for a matched target subject, 1/(comparators in its set)
    for a matched comparator, 0 for the unmatched."""
    sets = matched_sets(ps, treatment, caliper=caliper, ratio=ratio)
    return _set_weights(sets, _binary(treatment, "treatment"))


def _set_weights(sets: np.ndarray, t: np.ndarray) -> np.ndarray:
    weights = np.zeros(t.size)
    matched = sets >= 0
    per_set = np.bincount(sets[matched & (t == 0)], minlength=int(sets.max(initial=-1)) + 1)
    weights[matched & (t == 1)] = 1.0
    comparator = matched & (t == 0)
    weights[comparator] = 1.0 / per_set[sets[comparator]]
    return weights


def ps_strata(ps: Any, *, strata: int = 5) -> np.ndarray:
    """Stratum (0..strata−1) of every subject: quantiles of the PS over all subjects (OHDSI's
    ``stratifyByPs``, base selection "all")."""
    p = np.asarray(ps, dtype=float)
    cuts = np.quantile(p, np.linspace(0, 1, strata + 1)[1:-1])
    result: np.ndarray = np.searchsorted(cuts, p, side="right")
    return result


def stratify(ps: Any, treatment: Any, *, strata: int = 5) -> np.ndarray:
    """Marginal mean weights through stratification (Hong 2010) for the average treatment effect:
    a subject of arm a in stratum s weighs (n_s / N) / (n_as / n_a). Strata that lack an arm are
    left out (weight 0)."""
    t = _binary(treatment, "treatment")
    return _stratum_weights(ps_strata(ps, strata=strata), t)


def _stratum_weights(stratum: np.ndarray, t: np.ndarray) -> np.ndarray:
    k = int(stratum.max(initial=0)) + 1
    per_arm = np.stack([np.bincount(stratum[t == a], minlength=k) for a in (0, 1)])
    usable: np.ndarray = np.all(per_arm > 0, axis=0)
    keep = usable[stratum]
    weights = np.zeros(t.size)
    if not keep.any():
        return weights
    n_s = per_arm.sum(axis=0)
    total = float(n_s[usable].sum())
    n_arm = per_arm[:, usable].sum(axis=1).astype(float)
    shares = (n_s[stratum[keep]] / total) / (per_arm[t[keep], stratum[keep]] / n_arm[t[keep]])
    weights[keep] = shares
    return weights


# ---------------------------------------------------------------------------------------------
# balance


def smd(X: pd.DataFrame, treatment: Any, weights: Any = None) -> pd.Series:
    """Standardized mean difference of every column of ``X``, target minus comparator, over the
    pooled SD sqrt((s_t² + s_c²) / 2) of the same (weighted) population, as OHDSI computes it.
    Columns constant in both arms give 0; a difference with zero SD gives ±inf."""
    import pandas as pd

    t = _binary(treatment, "treatment")
    w = np.ones(t.size) if weights is None else np.asarray(weights, dtype=float)
    values = np.asarray(X, dtype=float)
    stats = []
    for arm in (1, 0):
        rows = (t == arm) & (w > 0)
        arm_w = w[rows]
        total = arm_w.sum()
        if total <= 0:
            stats.append((np.full(values.shape[1], np.nan), np.full(values.shape[1], np.nan)))
            continue
        mean = arm_w @ values[rows] / total
        var = arm_w @ (values[rows] - mean) ** 2 / total
        stats.append((mean, var))
    (mean_t, var_t), (mean_c, var_c) = stats
    diff = mean_t - mean_c
    sd = np.sqrt((var_t + var_c) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.where(sd > 0, diff / np.where(sd > 0, sd, 1), np.where(diff == 0, 0.0, np.inf))
    result = np.where(np.isnan(diff), np.nan, np.where((sd == 0) & (diff < 0), -np.inf, result))
    return pd.Series(result, index=list(getattr(X, "columns", range(values.shape[1]))), name="smd")


def _max_abs(values: pd.Series) -> float | None:
    finite = np.abs(values.to_numpy(dtype=float))
    finite = finite[~np.isnan(finite)]
    return float(finite.max()) if finite.size else None


# ---------------------------------------------------------------------------------------------
# outcome models


def cox(
    time: Any,
    event: Any,
    treatment: Any,
    *,
    weights: Any = None,
    strata: Any = None,
    cluster: Any = None,
) -> Estimate | None:
    """Hazard ratio of the target arm from a Cox proportional-hazards model (lifelines) with the
    treatment as its only covariate, on the subjects with positive weight. Weights and matched
    sets (``cluster``) use the robust sandwich variance (Austin 2013); ``strata`` fits a
    stratified model (PS strata). None when the model cannot be fitted."""
    import pandas as pd
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning, StatisticalWarning

    t = _binary(treatment, "treatment")
    frame = pd.DataFrame(
        {"time": np.asarray(time, float), "event": np.asarray(event, int), "treatment": t}
    )
    options: dict[str, Any] = {}
    if weights is not None:
        frame["weight"] = np.asarray(weights, dtype=float)
        options.update(weights_col="weight", robust=True)
    if strata is not None:
        frame["stratum"] = np.asarray(strata)
        options["strata"] = ["stratum"]
    if cluster is not None:
        frame["cluster"] = np.asarray(cluster)
        options.update(cluster_col="cluster", robust=True)
    if weights is not None:
        frame = frame[frame["weight"] > 0]
    frame = frame[np.isfinite(frame["time"]) & (frame["time"] > 0)]
    events = frame.loc[frame["event"] == 1, "treatment"]
    if frame["treatment"].nunique() < 2 or events.nunique() < 2:
        return None  # no events in an arm: the hazard ratio is 0 or infinite
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (ConvergenceWarning, StatisticalWarning))
            fitted = CoxPHFitter().fit(frame, "time", "event", **options)
    except (ConvergenceError, np.linalg.LinAlgError, ZeroDivisionError):
        return None  # e.g. complete separation in a tiny or degenerate population
    return _estimate(
        float(fitted.params_["treatment"]), float(fitted.standard_errors_["treatment"])
    )


def _estimate(log_hr: float, se: float) -> Estimate | None:
    from scipy.stats import norm

    if not (math.isfinite(log_hr) and math.isfinite(se)) or se <= 0:
        return None
    z = norm.ppf(0.975)
    return Estimate(
        hr=math.exp(log_hr),
        ci=(math.exp(log_hr - z * se), math.exp(log_hr + z * se)),
        p=float(2 * norm.sf(abs(log_hr / se))),
        log_hr=log_hr,
        se_log_hr=se,
    )


def kaplan_meier(
    time: Any, event: Any, treatment: Any, weights: Any = None, *, points: int = KM_POINTS
) -> KaplanMeier:
    """Kaplan–Meier survival of each arm (weighted when ``weights`` are given, subjects with
    weight 0 left out), read on ``points`` evenly spaced days from 0 to the last time."""
    from lifelines import KaplanMeierFitter
    from lifelines.exceptions import StatisticalWarning

    t = _binary(treatment, "treatment")
    times = np.asarray(time, dtype=float)
    events = np.asarray(event, dtype=int)
    w = np.ones(t.size) if weights is None else np.asarray(weights, dtype=float)
    grid = np.linspace(0.0, float(times.max(initial=0.0)), points)
    curves = []
    for arm in (1, 0):
        rows = (t == arm) & (w > 0)
        if not rows.any():
            curves.append([math.nan] * points)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)
            fitter = KaplanMeierFitter().fit(times[rows], events[rows], weights=w[rows])
        curves.append([float(s) for s in fitter.survival_function_at_times(grid).to_numpy()])
    return KaplanMeier(
        timeline=[float(g) for g in grid],
        survival_target=curves[0],
        survival_comparator=curves[1],
        weighted=weights is not None,
    )


def mdrr(
    n_target: int, n_comparator: int, events: int, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Minimum detectable relative risk of a Cox model (Schoenfeld 1983, as OHDSI's
    ``computeMdrr``): exp(sqrt((z_{1−α/2} + z_power)² / (E · p · (1 − p)))), E the outcome events
    in both arms, p the share of subjects in the target arm. Infinite without events."""
    from scipy.stats import norm

    total = n_target + n_comparator
    if events <= 0 or n_target <= 0 or n_comparator <= 0:
        return math.inf
    share = n_target / total
    z = float(norm.ppf(1 - alpha / 2) + norm.ppf(power))
    return math.exp(math.sqrt(z**2 / (events * share * (1 - share))))


# ---------------------------------------------------------------------------------------------
# negative controls (Schuemie et al. 2014; EmpiricalCalibration)


def fit_null(log_hr: Any, se: Any) -> EmpiricalNull:
    """Maximum-likelihood normal fit of the systematic error: each control's log HR ~ N(mean,
    sd² + se_i²), its sampling error accounted for."""
    from scipy.optimize import minimize
    from scipy.stats import norm

    b = np.asarray(log_hr, dtype=float)
    s = np.asarray(se, dtype=float)
    if b.size == 0:
        raise StudyDataError("no negative-control estimates to fit the empirical null to")

    def negative_log_likelihood(theta: np.ndarray) -> float:
        return -float(norm.logpdf(b, theta[0], np.sqrt(theta[1] ** 2 + s**2)).sum())

    start = np.array([float(b.mean()), float(b.std()) + 0.01])
    fitted = minimize(
        negative_log_likelihood, start, method="L-BFGS-B", bounds=[(None, None), (0.0, None)]
    )
    return EmpiricalNull(mean=float(fitted.x[0]), sd=float(fitted.x[1]), n_controls=int(b.size))


def ease(null: EmpiricalNull) -> float:
    """Expected absolute systematic error: E|X| for X ~ N(mean, sd²) (EmpiricalCalibration's
    ``computeExpectedAbsoluteSystematicError``), in closed form (folded normal mean)."""
    from scipy.stats import norm

    mu, sigma = null.mean, null.sd
    if sigma <= 0:
        return abs(mu)
    return float(
        sigma * math.sqrt(2 / math.pi) * math.exp(-(mu**2) / (2 * sigma**2))
        + mu * (1 - 2 * norm.cdf(-mu / sigma))
    )


def calibrate_p(null: EmpiricalNull, log_hr: float, se: float) -> float:
    """Two-sided p-value of ``log_hr`` against the empirical null widened by its own error."""
    from scipy.stats import norm

    z = (log_hr - null.mean) / math.sqrt(null.sd**2 + se**2)
    return float(2 * norm.sf(abs(z)))


def calibrate_ci(
    null: EmpiricalNull, log_hr: float, se: float, alpha: float = 0.05
) -> tuple[float, float]:
    """Calibrated (1 − α) CI of the HR, assuming the systematic error estimated from negative
    controls holds at every effect size (no positive controls): the log HR is shifted by the
    null's mean and its variance widened by the null's."""
    from scipy.stats import norm

    centre = log_hr - null.mean
    width = float(norm.ppf(1 - alpha / 2)) * math.sqrt(null.sd**2 + se**2)
    return (math.exp(centre - width), math.exp(centre + width))


# ---------------------------------------------------------------------------------------------
# diagnostics


def diagnostics(
    *,
    max_smd_after: float | None,
    equipoise: float,
    mdrr: float,
    events_target: int,
    events_comparator: int,
    n_target: int,
    n_comparator: int,
    max_smd_before: float | None = None,
    ease: float | None = None,
    negative_controls: int = 0,
    outcome_model: bool = True,
    thresholds: Thresholds | None = None,
) -> Diagnostics:
    """The gate (OHDSI's defaults): max |SMD| after adjustment ≤ 0.1, equipoise ≥ 0.2, MDRR ≤ 10,
    EASE ≤ 0.25 when ``negative_controls`` were given (failing when none could be estimated), and
    at least ``min_events_per_arm`` (1) outcome events in each arm and ``min_events`` (5) in all,
    counted in the adjusted population; ``outcome_model`` False (the adjusted Cox model could not
    be fitted) fails too."""
    limits = thresholds or Thresholds()
    failed: list[tuple[str, str]] = []
    if max_smd_after is None:
        failed.append(
            (
                "balance",
                "balance: no covariate balance could be computed (no covariates, or an arm is "
                "empty after adjustment)",
            )
        )
    elif not max_smd_after <= limits.max_smd:
        failed.append(
            (
                "balance",
                f"balance: max |SMD| after adjustment {max_smd_after:.3f} > {limits.max_smd}",
            )
        )
    if not equipoise >= limits.min_equipoise:
        failed.append(
            (
                "equipoise",
                f"equipoise: {equipoise:.3f} of subjects have a preference score in "
                f"[{EQUIPOISE_BOUNDS[0]}, {EQUIPOISE_BOUNDS[1]}], below {limits.min_equipoise}",
            )
        )
    if not mdrr <= limits.max_mdrr:
        failed.append(
            ("mdrr", f"mdrr: minimum detectable relative risk {mdrr:.2f} > {limits.max_mdrr}")
        )
    if negative_controls and ease is None:
        failed.append(
            (
                "ease",
                f"ease: none of the {negative_controls} negative controls could be estimated "
                "(each needs an outcome event in both arms)",
            )
        )
    elif ease is not None and not ease <= limits.max_ease:
        failed.append(
            ("ease", f"ease: expected absolute systematic error {ease:.3f} > {limits.max_ease}")
        )
    events = events_target + events_comparator
    if min(events_target, events_comparator) < limits.min_events_per_arm or (
        events < limits.min_events
    ):
        failed.append(
            (
                "events",
                f"events: {events_target} outcome events in the target arm and "
                f"{events_comparator} in the comparator arm; at least "
                f"{limits.min_events_per_arm} per arm and {limits.min_events} in all are needed",
            )
        )
    if not outcome_model:
        failed.append(("model", "model: the Cox model of the adjusted population did not fit"))
    return Diagnostics(
        passed=not failed,
        reasons=[reason for _, reason in failed],
        failed=[name for name, _ in failed],
        max_smd_before=max_smd_before,
        max_smd_after=max_smd_after,
        equipoise=equipoise,
        mdrr=mdrr,
        ease=ease,
        events=events,
        events_target=events_target,
        events_comparator=events_comparator,
        n_target=n_target,
        n_comparator=n_comparator,
        thresholds=limits,
    )


# ---------------------------------------------------------------------------------------------
# the whole analysis


class _Adjustment:
    """Weights (0 = left out) for balance and Kaplan–Meier, and how the outcome model uses them."""

    def __init__(
        self,
        weights: np.ndarray,
        *,
        weighted_model: bool,
        strata: np.ndarray | None = None,
        cluster: np.ndarray | None = None,
    ) -> None:
        self.weights = weights
        self.keep = weights > 0
        self.weighted_model = weighted_model
        self.strata = strata
        self.cluster = cluster

    def outcome(self, time: np.ndarray, event: np.ndarray, t: np.ndarray) -> Estimate | None:
        keep = self.keep & np.isfinite(time) & (time > 0)
        return cox(
            time[keep],
            event[keep],
            t[keep],
            weights=self.weights[keep] if self.weighted_model else None,
            strata=None if self.strata is None else self.strata[keep],
            cluster=None if self.cluster is None else self.cluster[keep],
        )


def _adjust(
    method: str, ps: np.ndarray, t: np.ndarray, *, caliper: float, ratio: int, strata: int
) -> _Adjustment:
    if method == "iptw":
        return _Adjustment(iptw_weights(ps, t), weighted_model=True)
    if method == "ps-match":
        sets = matched_sets(ps, t, caliper=caliper, ratio=ratio)
        return _Adjustment(_set_weights(sets, t), weighted_model=True, cluster=sets)
    if method == "ps-stratify":
        stratum = ps_strata(ps, strata=strata)
        return _Adjustment(_stratum_weights(stratum, t), weighted_model=False, strata=stratum)
    raise StudyDataError(
        f"unknown adjustment method {method!r}", hint=f"use one of {', '.join(METHODS)}"
    )


def run_analysis(
    cohort: pd.DataFrame,
    *,
    method: Method,
    covariates: Sequence[str],
    negative_controls: dict[str, tuple[Any, Any]] | None = None,
    seed: int = 0,
    thresholds: Thresholds | None = None,
    caliper: float = 0.2,
    ratio: int = 1,
    strata: int = 5,
) -> AnalysisResult:
    """Propensity scores, the adjustment ``method``, balance, naive and adjusted Cox models,
    negative-control calibration and the diagnostics gate, on one cohort frame. The adjusted
    estimate is withheld (None) when a check fails; ``diagnostics.reasons`` says why.

    ``negative_controls`` maps a control outcome's name to (time, event) arrays aligned with the
    cohort's rows; a NaN or non-positive time leaves the subject out of that control (e.g. the
    outcome happened before the index date). Each control is estimated exactly like the outcome.
    """
    covariates = list(covariates)
    frame = _validated(cohort, covariates)
    t = frame["treatment"].to_numpy(dtype=int)
    time = frame["time"].to_numpy(dtype=float)
    event = frame["event"].to_numpy(dtype=int)
    features = frame[covariates].astype(float)

    ps = propensity_scores(features.to_numpy(), t, seed=seed)
    preference = preference_scores(ps, t)
    adjustment = _adjust(method, ps, t, caliper=caliper, ratio=ratio, strata=strata)
    keep = adjustment.keep
    before = smd(features, t)
    after = smd(features, t, adjustment.weights)

    naive = cox(time, event, t)
    adjusted = adjustment.outcome(time, event, t)
    n_target, n_comparator = int((keep & (t == 1)).sum()), int((keep & (t == 0)).sum())
    events_target = int(event[keep & (t == 1)].sum())
    events_comparator = int(event[keep & (t == 0)].sum())
    power = mdrr(n_target, n_comparator, events_target + events_comparator)

    calibration = _calibration(negative_controls, adjustment, t) if negative_controls else None
    verdict = diagnostics(
        max_smd_before=_max_abs(before),
        max_smd_after=_max_abs(after),
        equipoise=equipoise(preference),
        mdrr=power,
        events_target=events_target,
        events_comparator=events_comparator,
        n_target=n_target,
        n_comparator=n_comparator,
        ease=None if calibration is None else calibration.ease,
        negative_controls=len(negative_controls or {}),
        outcome_model=adjusted is not None,
        thresholds=thresholds,
    )
    estimate = adjusted if verdict.passed else None
    if calibration is not None and estimate is not None and calibration.null is not None:
        calibration.p = calibrate_p(calibration.null, estimate.log_hr, estimate.se_log_hr)
        calibration.ci = calibrate_ci(calibration.null, estimate.log_hr, estimate.se_log_hr)
    return AnalysisResult(
        method=method,
        seed=seed,
        covariates=covariates,
        n_subjects=int(t.size),
        n_target=int((t == 1).sum()),
        n_comparator=int((t == 0).sum()),
        estimate=estimate,
        naive=naive,
        diagnostics=verdict,
        balance=[
            BalanceRow(covariate=str(name), smd_before=float(b), smd_after=float(a))
            for name, b, a in zip(covariates, before.to_numpy(), after.to_numpy(), strict=True)
        ],
        ps_target=[float(p) for p in ps[t == 1]],
        ps_comparator=[float(p) for p in ps[t == 0]],
        preference_target=[float(p) for p in preference[t == 1]],
        preference_comparator=[float(p) for p in preference[t == 0]],
        km=kaplan_meier(time, event, t, adjustment.weights),
        km_naive=kaplan_meier(time, event, t),
        calibration=calibration,
        software=_software(),
    )


def _calibration(
    controls: dict[str, tuple[Any, Any]], adjustment: _Adjustment, t: np.ndarray
) -> Calibration:
    estimates = []
    for name, (control_time, control_event) in controls.items():
        times = _column_array(control_time, f"negative control {name!r} time", t.size, float)
        events = _column_array(control_event, f"negative control {name!r} event", t.size, float)
        at_risk = adjustment.keep & np.isfinite(times) & (times > 0)
        events = np.nan_to_num(events).astype(int)
        estimates.append(
            ControlEstimate(
                name=str(name),
                estimate=adjustment.outcome(times, events, t),
                events=int(events[at_risk].sum()),
            )
        )
    usable = [c.estimate for c in estimates if c.estimate is not None]
    if not usable:
        return Calibration(controls=estimates, null=None, ease=None)
    null = fit_null([e.log_hr for e in usable], [e.se_log_hr for e in usable])
    return Calibration(controls=estimates, null=null, ease=ease(null))


def _software() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("ocais", "lifelines", "scikit-learn", "numpy", "pandas"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found


# ---------------------------------------------------------------------------------------------
# input checks


def _binary(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise StudyDataError(f"{name} must be one value per subject", hint="pass a 1-D array")
    numeric = np.asarray(array, dtype=float)
    if not np.isin(numeric, (0.0, 1.0)).all():
        raise StudyDataError(
            f"{name} must hold only 0 and 1", hint=f"code {name} as 1 (target/yes), 0 otherwise"
        )
    return numeric.astype(int)


def _column_array(values: Any, name: str, size: int, dtype: type) -> np.ndarray:
    array: np.ndarray = np.asarray(values, dtype=dtype)
    if array.shape != (size,):
        raise StudyDataError(
            f"{name} has shape {array.shape}, the cohort has {size} subjects",
            hint="align the negative controls' arrays with the cohort's rows",
        )
    return array


def _validated(cohort: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(cohort, pd.DataFrame):
        raise StudyDataError("the cohort must be a pandas DataFrame")
    missing = [c for c in ("treatment", "time", "event", *covariates) if c not in cohort.columns]
    if missing:
        raise StudyDataError(
            f"the cohort lacks the column(s) {', '.join(missing)}",
            hint="give treatment (1/0), time (days > 0), event (0/1) and every named covariate",
        )
    for reserved in ("treatment", "time", "event"):
        if reserved in covariates:
            raise StudyDataError(
                f"{reserved!r} cannot be a covariate", hint="remove it from the covariates"
            )
    t = _binary(cohort["treatment"], "treatment")
    _binary(cohort["event"], "event")
    if t.sum() == 0 or (t == 0).sum() == 0:
        raise StudyDataError(
            f"the cohort has {int(t.sum())} target and {int((t == 0).sum())} comparator subjects",
            hint="an arm is empty: check the target and comparator codes",
        )
    time = pd.to_numeric(cohort["time"], errors="coerce").to_numpy(dtype=float)
    if not (np.isfinite(time) & (time > 0)).all():
        raise StudyDataError(
            "time must be a finite number of days > 0 for every subject",
            hint="leave out subjects with no time at risk before the analysis",
        )
    for name in covariates:
        values = pd.to_numeric(cohort[name], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(values).all():
            raise StudyDataError(
                f"covariate {name!r} has missing or non-numeric values",
                hint="encode it as numbers (binary 0/1) and impute or drop missing values",
            )
    return cohort.reset_index(drop=True)
