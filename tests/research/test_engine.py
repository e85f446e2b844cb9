"""The study engine on simulated cohorts whose truth is known.

The population (``simulate``): age (standardized) and a comorbidity raise both the chance of the
target drug (log-odds +0.6, +0.8) and the hazard of the outcome (log-hazard +0.6, +0.8); smoking
does both weakly (+0.3, +0.2); sex does neither. Event times are exponential (0.0002 per day at
baseline, times the true hazard ratio 0.6 of the target drug), censored at the end of follow-up,
uniform between 365 and 1,095 days. The naive hazard ratio is therefore biased towards 1; the
adjusted one must recover 0.6. (The marginal hazard ratio, which IPTW estimates, is 0.616 here by
a 200,000-subject counterfactual simulation: near the conditional 0.6 because follow-up is short
and events rare enough, ~17%.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lifelines")

from ocais.research.engine import (
    METHODS,
    AnalysisResult,
    EmpiricalNull,
    StudyDataError,
    Thresholds,
    calibrate_p,
    diagnostics,
    ease,
    equipoise,
    fit_null,
    iptw_weights,
    match,
    matched_sets,
    mdrr,
    preference_scores,
    ps_strata,
    run_analysis,
    smd,
    stratify,
)
from ocais.research.report import render_report

TRUE_HR = 0.6
COVARIATES = ["age", "comorbidity", "female", "smoker"]
SEED = 1


def simulate(
    n: int = 4000,
    *,
    seed: int = SEED,
    overlap: bool = True,
    base_rate: float = 2e-4,
    controls: int = 0,
    control_bias: float = 0.0,
) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """A cohort frame and ``controls`` negative-control outcomes: the controls share the
    outcome's confounding and have log HR ``control_bias`` (+ N(0, 0.05) when it is not 0),
    standing for systematic error the covariates do not capture."""
    rng = np.random.default_rng(seed)
    age = rng.normal(0.0, 1.0, n)
    comorbidity = rng.binomial(1, 0.3, n)
    female = rng.binomial(1, 0.5, n)
    smoker = rng.binomial(1, 0.2, n)
    if overlap:
        log_odds = -0.4 + 0.6 * age + 0.8 * comorbidity + 0.3 * smoker
    else:  # the drug is all but determined by the comorbidity and age
        log_odds = -4.0 + 8.0 * comorbidity + 2.0 * age
    treatment = rng.binomial(1, 1 / (1 + np.exp(-log_odds)))
    risk = 0.6 * age + 0.8 * comorbidity + 0.2 * smoker
    follow_up = rng.uniform(365, 1095, n)

    def outcome(log_hr: float, rate: float) -> tuple[np.ndarray, np.ndarray]:
        times = rng.exponential(1 / (rate * np.exp(log_hr * treatment + risk)))
        return np.maximum(np.minimum(times, follow_up), 1.0), (times <= follow_up).astype(int)

    time, event = outcome(math.log(TRUE_HR), base_rate)
    frame = pd.DataFrame(
        {
            "treatment": treatment,
            "time": time,
            "event": event,
            "age": age,
            "comorbidity": comorbidity,
            "female": female,
            "smoker": smoker,
        }
    )
    negative = {}
    for k in range(controls):
        bias = control_bias + (rng.normal(0, 0.05) if control_bias else 0.0)
        negative[f"control-{k}"] = outcome(bias, 1.5e-4)
    return frame, negative


@pytest.fixture(scope="module")
def known() -> pd.DataFrame:
    return simulate()[0]


@pytest.fixture(scope="module")
def adjusted(known: pd.DataFrame) -> dict[str, AnalysisResult]:
    return {
        method: run_analysis(known, method=method, covariates=COVARIATES, seed=0)  # type: ignore[arg-type]
        for method in METHODS
    }


@pytest.fixture(scope="module")
def no_overlap() -> AnalysisResult:
    frame, _ = simulate(seed=5, overlap=False)
    return run_analysis(frame, method="iptw", covariates=COVARIATES, seed=0)


# ---------------------------------------------------------------------------------------------
# known effect, measured confounding


def test_naive_estimate_is_confounded(adjusted: dict[str, AnalysisResult]) -> None:
    naive = adjusted["iptw"].naive
    assert naive is not None
    assert naive.hr > 0.75
    assert not naive.ci[0] <= TRUE_HR <= naive.ci[1]
    assert adjusted["iptw"].diagnostics.max_smd_before > 0.3  # type: ignore[operator]


@pytest.mark.parametrize("method", METHODS)
def test_adjusted_estimate_recovers_the_truth(
    adjusted: dict[str, AnalysisResult], method: str
) -> None:
    result = adjusted[method]
    assert result.diagnostics.passed, result.diagnostics.reasons
    assert result.diagnostics.reasons == []
    assert result.estimate is not None
    assert result.estimate.ci[0] <= TRUE_HR <= result.estimate.ci[1]
    assert result.diagnostics.max_smd_after is not None
    assert result.diagnostics.max_smd_after <= 0.1
    assert result.diagnostics.equipoise >= 0.2
    assert result.diagnostics.mdrr <= 10
    assert [row.covariate for row in result.balance] == COVARIATES
    assert len(result.ps_target) + len(result.ps_comparator) == result.n_subjects


def test_matching_keeps_pairs_within_the_caliper(known: pd.DataFrame) -> None:
    from scipy.special import logit

    from ocais.research.engine import propensity_scores

    t = known["treatment"].to_numpy()
    ps = propensity_scores(known[COVARIATES].to_numpy(), t, seed=0)
    sets = matched_sets(ps, t)
    matched = sets[sets >= 0]
    assert set(np.unique(matched, return_counts=True)[1]) == {2}
    for arm in (0, 1):  # each set holds one subject of each arm
        assert len(set(sets[(sets >= 0) & (t == arm)])) == len(set(matched))
    width = 0.2 * logit(ps).std()
    order = np.argsort(sets)
    pairs = logit(ps)[order][sets[order] >= 0].reshape(-1, 2)
    assert np.all(np.abs(pairs[:, 0] - pairs[:, 1]) <= width + 1e-12)
    weights = match(ps, t, ratio=2)
    assert set(np.round(weights[(weights > 0) & (t == 0)], 6)) <= {0.5, 1.0}


def test_result_is_json_safe(adjusted: dict[str, AnalysisResult]) -> None:
    data = adjusted["ps-match"].to_json()
    text = json.dumps(data, allow_nan=False)
    assert set(data["estimate"]) >= {"hr", "ci", "p"} and len(data["estimate"]["ci"]) == 2
    assert set(data["diagnostics"]) >= {"passed", "reasons", "max_smd_after", "equipoise"}
    assert "ps_target" not in adjusted["ps-match"].to_json(arrays=False)
    assert len(text) > 1000


# ---------------------------------------------------------------------------------------------
# the gate


def test_no_overlap_is_refused(no_overlap: AnalysisResult) -> None:
    verdict = no_overlap.diagnostics
    assert not verdict.passed
    assert no_overlap.estimate is None
    assert verdict.equipoise < 0.2
    assert "equipoise" in verdict.failed
    line = next(r for r in verdict.reasons if r.startswith("equipoise"))
    assert f"{verdict.equipoise:.3f}" in line and "0.2" in line
    assert no_overlap.naive is not None  # the naive estimate is still shown
    assert json.dumps(no_overlap.to_json(), allow_nan=False)


def test_null_negative_controls_pass(known: pd.DataFrame) -> None:
    frame, controls = simulate(controls=8)
    result = run_analysis(
        frame, method="iptw", covariates=COVARIATES, negative_controls=controls, seed=0
    )
    calibration = result.calibration
    assert calibration is not None and calibration.null is not None
    assert calibration.null.n_controls == 8
    assert calibration.ease is not None and calibration.ease < 0.1
    assert result.diagnostics.passed, result.diagnostics.reasons
    assert result.estimate is not None
    assert calibration.p is not None and calibration.ci is not None
    assert calibration.ci[0] <= TRUE_HR <= calibration.ci[1]


def test_biased_negative_controls_withhold_the_estimate() -> None:
    frame, controls = simulate(controls=8, control_bias=0.7)
    result = run_analysis(
        frame, method="iptw", covariates=COVARIATES, negative_controls=controls, seed=0
    )
    assert result.calibration is not None and result.calibration.null is not None
    # the controls' log HR 0.7 is conditional: the marginal one IPTW estimates is nearer 0.6
    assert 0.45 < result.calibration.null.mean < 0.85
    assert result.diagnostics.ease is not None and result.diagnostics.ease > 0.25
    assert result.diagnostics.failed == ["ease"]
    assert result.estimate is None
    assert result.calibration.p is None and result.calibration.ci is None


def test_unestimable_negative_controls_fail_the_gate(known: pd.DataFrame) -> None:
    n = len(known)
    no_events = (np.full(n, 100.0), np.zeros(n, dtype=int))
    result = run_analysis(
        known,
        method="iptw",
        covariates=COVARIATES,
        negative_controls={"never": no_events},
        seed=0,
    )
    assert result.calibration is not None and result.calibration.null is None
    assert result.diagnostics.failed == ["ease"]
    assert result.estimate is None


def test_tiny_study_is_underpowered() -> None:
    frame, _ = simulate(n=300, seed=10, base_rate=1.5e-5)  # 5 events, 2 and 3
    result = run_analysis(frame, method="iptw", covariates=COVARIATES, seed=0)
    assert result.diagnostics.mdrr > 10
    assert result.diagnostics.failed == ["mdrr"]
    assert result.estimate is None
    assert any("minimum detectable relative risk" in r for r in result.diagnostics.reasons)


@pytest.mark.parametrize("method", METHODS)
def test_a_degenerate_cohort_is_withheld_not_crashed(method: str) -> None:
    frame, _ = simulate(n=300, seed=2)
    lone = frame[(frame["treatment"] == 0) | (frame.index == frame["treatment"].idxmax())]
    result = run_analysis(lone, method=method, covariates=COVARIATES, seed=0)  # type: ignore[arg-type]
    assert result.estimate is None and not result.diagnostics.passed
    assert {"mdrr", "events"} <= set(result.diagnostics.failed)
    assert json.dumps(result.to_json(), allow_nan=False)
    no_covariates = run_analysis(frame, method=method, covariates=[], seed=0)  # type: ignore[arg-type]
    assert "balance" in no_covariates.diagnostics.failed and no_covariates.estimate is None


def test_diagnostics_name_every_failed_check() -> None:
    passing = dict(
        max_smd_after=0.05,
        equipoise=0.5,
        mdrr=1.5,
        events_target=40,
        events_comparator=50,
        n_target=500,
        n_comparator=500,
    )
    assert diagnostics(**passing).passed  # type: ignore[arg-type]
    verdict = diagnostics(
        max_smd_after=0.25,
        equipoise=0.1,
        mdrr=12.0,
        events_target=0,
        events_comparator=3,
        n_target=10,
        n_comparator=10,
        ease=0.4,
        negative_controls=5,
        outcome_model=False,
    )
    assert verdict.failed == ["balance", "equipoise", "mdrr", "ease", "events", "model"]
    assert len(verdict.reasons) == 6
    assert "0.250 > 0.1" in verdict.reasons[0] and "12.00 > 10.0" in verdict.reasons[2]
    assert "0.400 > 0.25" in verdict.reasons[3]
    stricter = diagnostics(**passing, thresholds=Thresholds(max_smd=0.01))  # type: ignore[arg-type]
    assert stricter.failed == ["balance"]


# ---------------------------------------------------------------------------------------------
# the pieces


def test_mdrr_follows_schoenfeld() -> None:
    # exp(sqrt((1.959964 + 0.841621)^2 / (5 * 0.5 * 0.5))) = 12.25
    assert mdrr(500, 500, 5) == pytest.approx(12.25, abs=0.01)
    assert mdrr(500, 500, 400) < mdrr(500, 500, 100) < mdrr(500, 500, 5)
    assert mdrr(900, 100, 100) > mdrr(500, 500, 100)  # unbalanced arms detect less
    assert math.isinf(mdrr(500, 500, 0))


@pytest.mark.parametrize(("mean", "sd"), [(0.0, 0.2), (0.3, 0.1), (-0.5, 0.4), (0.7, 0.0)])
def test_ease_is_the_expected_absolute_error(mean: float, sd: float) -> None:
    from scipy.integrate import quad
    from scipy.stats import norm

    null = EmpiricalNull(mean=mean, sd=sd, n_controls=10)
    if sd == 0:
        assert ease(null) == pytest.approx(abs(mean))
        return
    expected, _ = quad(lambda x: abs(x) * norm.pdf(x, mean, sd), -np.inf, np.inf)
    assert ease(null) == pytest.approx(expected, rel=1e-6)


def test_empirical_null_accounts_for_sampling_error() -> None:
    rng = np.random.default_rng(0)
    se = rng.uniform(0.05, 0.3, 400)
    log_hr = rng.normal(0.3, 0.2, 400) + rng.normal(0, se)
    null = fit_null(log_hr, se)
    assert null.mean == pytest.approx(0.3, abs=0.04)
    assert null.sd == pytest.approx(0.2, abs=0.04)  # not the raw spread, which is wider
    assert np.std(log_hr) > 0.25
    assert calibrate_p(null, null.mean, 0.1) == pytest.approx(1.0)
    far = null.mean + 3 * math.hypot(null.sd, 0.1)  # 3 SD of null + sampling error away
    assert calibrate_p(null, far, 0.1) == pytest.approx(0.0027, abs=1e-4)


def test_preference_score_and_equipoise() -> None:
    ps = np.array([0.2, 0.4, 0.6, 0.8])
    assert np.allclose(preference_scores(ps, [1, 0, 1, 0]), ps)  # equal arms: F = PS
    # a 20% target share: a subject whose PS equals the share has no preference (F = 0.5)
    t = np.array([1, 0, 0, 0, 0])
    shifted = preference_scores(np.array([0.2, 0.2, 0.5, 0.5, 0.5]), t)
    assert shifted[0] == pytest.approx(0.5) and shifted[2] == pytest.approx(0.8)
    assert equipoise([0.3, 0.7, 0.29, 0.71, 0.5]) == pytest.approx(0.6)


def test_iptw_weights_rebuild_each_arm() -> None:
    rng = np.random.default_rng(1)
    ps = rng.uniform(0.2, 0.8, 20_000)
    t = rng.binomial(1, ps)
    weights = iptw_weights(ps, t)
    for arm in (0, 1):
        assert weights[t == arm].sum() == pytest.approx((t == arm).sum(), rel=0.03)
    trimmed = iptw_weights(ps, t, trim=0.25, max_weight=2.0)
    assert (trimmed[(ps < 0.25) | (ps > 0.75)] == 0).all() and trimmed.max() <= 2.0
    unstabilized = iptw_weights(ps, t, stabilized=False, max_weight=None)
    assert np.allclose(unstabilized[t == 1], 1 / ps[t == 1])


def test_stratification_weights_balance_the_strata() -> None:
    rng = np.random.default_rng(2)
    ps = rng.uniform(0.1, 0.9, 5000)
    t = rng.binomial(1, ps)
    stratum = ps_strata(ps, strata=5)
    assert set(stratum) == set(range(5))
    assert np.bincount(stratum).min() >= 990
    weights = stratify(ps, t, strata=5)
    for arm in (0, 1):
        assert weights[t == arm].sum() == pytest.approx((t == arm).sum())
        shares = np.bincount(stratum[t == arm], weights=weights[t == arm]) / (t == arm).sum()
        assert np.allclose(shares, np.bincount(stratum) / 5000)


def test_smd_uses_the_pooled_sd_and_weights() -> None:
    X = pd.DataFrame({"x": [0, 0, 1, 1, 0, 0, 0, 1], "constant": [1] * 8})
    t = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    values = smd(X, t)
    assert values["x"] == pytest.approx(0.25 / math.sqrt((0.25 + 0.1875) / 2))
    assert values["constant"] == 0.0
    # weight 2 on a row is the row counted twice
    weights = np.array([1, 1, 1, 2, 1, 1, 1, 1])
    doubled = pd.concat([X, X.iloc[[3]]])
    assert smd(X, t, weights)["x"] == pytest.approx(smd(doubled, np.append(t, 1))["x"])


def test_bad_cohorts_are_refused_with_the_fix(known: pd.DataFrame) -> None:
    with pytest.raises(StudyDataError, match="lacks the column"):
        run_analysis(known, method="iptw", covariates=["age", "weight"], seed=0)
    with pytest.raises(StudyDataError, match="unknown adjustment method"):
        run_analysis(known, method="ps-weird", covariates=COVARIATES, seed=0)  # type: ignore[arg-type]
    broken = known.assign(time=known["time"].where(known.index > 0, 0.0))
    with pytest.raises(StudyDataError, match="time"):
        run_analysis(broken, method="iptw", covariates=COVARIATES, seed=0)
    with pytest.raises(StudyDataError, match="0 and 1"):
        run_analysis(known.assign(treatment=2), method="iptw", covariates=COVARIATES, seed=0)


# ---------------------------------------------------------------------------------------------
# the report


def test_report_renders_with_plots(adjusted: dict[str, AnalysisResult], tmp_path: Path) -> None:
    attrition = [
        {"step": "new users of either drug", "target": 2100, "comparator": 1900},
        {"step": "with the indication <b>before</b>", "target": 1950, "comparator": 1850},
    ]
    path = render_report(
        adjusted["iptw"], title="Warfarin vs apixaban", attrition=attrition, out_dir=tmp_path
    )
    html = path.read_text()
    assert path == tmp_path / "report.html"
    assert html.count("data:image/png;base64,") == 3
    assert "Diagnostics passed" in html and 'id="withheld"' not in html
    assert "&lt;b&gt;before&lt;/b&gt;" in html and "<b>before" not in html
    assert "1,950" in html


def test_report_of_a_refused_study_shows_the_banner(
    no_overlap: AnalysisResult, tmp_path: Path
) -> None:
    path = render_report(no_overlap, title="No overlap", attrition=[], out_dir=tmp_path / "out")
    html = path.read_text()
    assert 'id="withheld"' in html and "Estimate withheld" in html
    assert "equipoise" in html and html.count("data:image/png;base64,") == 3
    assert ">withheld<" in html
