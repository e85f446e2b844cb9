"""Privacy, fidelity and utility measurements of synthetic sets (ocais.synth.privacy)."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ocais.errors import ConfigError
from ocais.knowledge import KnowledgeBase
from ocais.schemas import Case
from ocais.synth import privacy
from ocais.synth.privacy import (
    SynthReport,
    build_report,
    fidelity_metrics,
    item_matrix,
    jaccard_distance,
    nearest_distances,
    phenotype_sets,
    privacy_metrics,
    report_json,
    topk_accuracy,
    utility_metrics,
)
from ocais.synth.report_html import write_report_html
from tests.synth.cases import copies, make_case, random_cases

DISEASES = ("OMIM:1", "OMIM:2", "OMIM:3")


def terms_of(kb: KnowledgeBase, n: int, start: int = 1000) -> list[str]:
    return list(kb.term_ids[start : start + n])


def draws(kb: KnowledgeBase, seed: int, n: int = 300) -> dict[str, list[Case]]:
    """Source, holdout and synthetic sets drawn independently from one distribution."""
    rng = np.random.default_rng(seed)
    terms = terms_of(kb, 120)
    return {
        "source": random_cases(rng, n, terms, DISEASES, prefix="s"),
        "holdout": random_cases(rng, n, terms, DISEASES, prefix="h"),
        "synthetic": random_cases(rng, n, terms, DISEASES, prefix="y", synthetic=True),
    }


# --- item sets and distances ------------------------------------------------------------------
def test_phenotype_sets_resolve_ids_and_sign_excluded_terms(tiny_kb: KnowledgeBase) -> None:
    seizure = tiny_kb.term_index["HP:0001250"]
    vision = tiny_kb.term_index["HP:0000505"]
    eye = tiny_kb.term_index["HP:0000478"]
    cases = [
        # alternative id and obsolete id both mean Seizure; HP:0009999 is unknown: dropped
        make_case("a", "OMIM:1", ["HP:0001251", "HP:0009999"], ["HP:0000505"]),
        make_case("b", "OMIM:1", ["HP:0000999", "HP:0000478"], ["HP:0000478"]),
        make_case("c", None, []),
    ]
    sets = phenotype_sets(cases, tiny_kb)
    assert sets[0] == frozenset({seizure, -(vision + 1)})
    assert sets[1] == frozenset({seizure, eye})  # observed and excluded: observed wins
    assert sets[2] == frozenset()


def test_jaccard_distance() -> None:
    assert jaccard_distance(frozenset({1, 2}), frozenset({1, 2})) == 0.0
    assert jaccard_distance(frozenset({1, 2}), frozenset({2, 3})) == pytest.approx(2 / 3)
    assert jaccard_distance(frozenset({1}), frozenset({-2})) == 1.0
    assert jaccard_distance(frozenset(), frozenset()) == 0.0
    assert jaccard_distance(frozenset(), frozenset({5})) == 1.0


def test_signed_items_make_an_excluded_term_differ_from_an_observed_one() -> None:
    matrix = item_matrix([frozenset({3}), frozenset({-4})], n_terms=10)
    assert matrix.shape == (2, 20)
    assert matrix.toarray()[0].nonzero()[0].tolist() == [3]
    assert matrix.toarray()[1].nonzero()[0].tolist() == [13]
    distances, _ = nearest_distances(matrix[[0]], matrix[[1]])
    assert distances.tolist() == [1.0]


def brute_force(
    queries: Sequence[frozenset[int]],
    references: Sequence[frozenset[int]],
    query_groups: Sequence[str],
    reference_groups: Sequence[str],
) -> list[float]:
    result = []
    for q, g in zip(queries, query_groups, strict=True):
        same = [r for r, h in zip(references, reference_groups, strict=True) if h == g]
        result.append(min(jaccard_distance(q, r) for r in (same or references)))
    return result


def test_nearest_distances_match_brute_force_across_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(7)

    def random_sets(n: int) -> list[frozenset[int]]:
        return [
            frozenset(int(i) for i in rng.choice(np.arange(-30, 30), int(rng.integers(0, 8))))
            for _ in range(n)
        ]

    queries, references = random_sets(57), random_sets(23)
    query_groups = [str(g) for g in rng.integers(0, 4, 57)]  # group "3" has no reference
    reference_groups = [str(g) for g in rng.integers(0, 3, 23)]
    monkeypatch.setattr(privacy, "BLOCK_CELLS", 100)  # 4 query rows per block
    distances, nearest = nearest_distances(
        item_matrix(queries, 30), item_matrix(references, 30), query_groups, reference_groups
    )
    expected = brute_force(queries, references, query_groups, reference_groups)
    np.testing.assert_allclose(distances, expected)
    for i, j in enumerate(nearest):
        assert jaccard_distance(queries[i], references[j]) == pytest.approx(distances[i])
        if query_groups[i] != "3":
            assert reference_groups[j] == query_groups[i]
    # without groups, every reference is a candidate: never farther than within a group
    ungrouped, _ = nearest_distances(item_matrix(queries, 30), item_matrix(references, 30))
    assert (ungrouped <= distances + 1e-12).all()
    assert (ungrouped < distances).any()


# --- privacy ------------------------------------------------------------------------------------
def test_exact_and_near_copies_are_told_apart(real_kb: KnowledgeBase) -> None:
    t = terms_of(real_kb, 80)
    source = [
        make_case("s0", "OMIM:1", t[0:12]),
        make_case("s1", "OMIM:1", t[20:32]),
        make_case("s2", "OMIM:2", t[40:52]),
    ]
    synthetic = [
        make_case("y0", "OMIM:1", t[0:12], synthetic=True),  # exact copy of s0
        make_case("y1", "OMIM:1", t[0:11], synthetic=True),  # s0 less a term: 1/12 away
        make_case("y2", "OMIM:1", [*t[0:11], t[60]], synthetic=True),  # 2/13 away: not near
        make_case("y3", "OMIM:2", t[0:12], synthetic=True),  # s0's terms, another diagnosis
        make_case("y4", "OMIM:2", [], t[40:52], synthetic=True),  # s2's terms, all excluded
    ]
    within = privacy_metrics(synthetic, source, [], real_kb)
    assert (within.exact_copies, within.near_copies) == (1, 2)
    assert within.exact_copy_rate == pytest.approx(0.2)
    assert within.near_copy_rate == pytest.approx(0.4)
    assert within.dcr_synthetic_median == pytest.approx(2 / 13, abs=1e-6)  # 0, 1/12, 2/13, 1, 1
    anywhere = privacy_metrics(synthetic, source, [], real_kb, same_disease=False)
    assert (anywhere.exact_copies, anywhere.near_copies) == (1, 3)  # y3 is s0's terms
    stricter = privacy_metrics(synthetic, source, [], real_kb, near_copy=0.05)
    assert stricter.near_copies == 1


def test_membership_inference_detects_copied_source_cases(real_kb: KnowledgeBase) -> None:
    sets = draws(real_kb, seed=1)
    metrics = privacy_metrics(copies(sets["source"]), sets["source"], sets["holdout"], real_kb)
    assert metrics.mia_auc is not None and metrics.mia_auc > 0.99
    assert metrics.exact_copies == metrics.n_synthetic == 300
    assert metrics.dcr_synthetic_median == 0.0
    assert metrics.share_closer_than_holdout_median == 1.0
    assert (metrics.mia_members, metrics.mia_non_members) == (300, 300)
    assert metrics.mia_roc is not None
    assert metrics.mia_roc.false_positive_rate[0] == 0.0
    assert metrics.mia_roc.true_positive_rate[-1] == 1.0


def test_membership_inference_is_chance_for_independent_draws(real_kb: KnowledgeBase) -> None:
    sets = draws(real_kb, seed=2)
    metrics = privacy_metrics(sets["synthetic"], sets["source"], sets["holdout"], real_kb)
    assert metrics.mia_auc is not None and abs(metrics.mia_auc - 0.5) < 0.08
    assert metrics.exact_copies == 0
    assert metrics.dcr_holdout_median is not None
    assert abs(metrics.dcr_synthetic_median - metrics.dcr_holdout_median) < 0.1
    # ties at the median are not "closer": the share of an unrelated set stays below half
    assert metrics.share_closer_than_holdout_median is not None
    assert 0.3 < metrics.share_closer_than_holdout_median <= 0.5
    histogram = metrics.dcr_histogram
    assert len(histogram.edges) == privacy.HISTOGRAM_BINS + 1
    assert [sum(c) for c in histogram.counts.values()] == [300, 300]


def test_unequal_member_and_non_member_counts(real_kb: KnowledgeBase) -> None:
    sets = draws(real_kb, seed=3, n=120)
    holdout = sets["holdout"][:40]
    metrics = privacy_metrics(copies(sets["source"]), sets["source"], holdout, real_kb)
    assert (metrics.mia_members, metrics.mia_non_members) == (120, 40)
    assert metrics.mia_auc is not None and metrics.mia_auc > 0.99


def test_no_holdout_leaves_attack_figures_empty(real_kb: KnowledgeBase) -> None:
    sets = draws(real_kb, seed=4, n=30)
    metrics = privacy_metrics(sets["synthetic"], sets["source"], [], real_kb)
    assert metrics.mia_auc is None and metrics.mia_roc is None
    assert metrics.dcr_holdout_median is None and metrics.share_closer_than_holdout_median is None


def test_empty_sets_are_rejected(real_kb: KnowledgeBase) -> None:
    sets = draws(real_kb, seed=5, n=5)
    with pytest.raises(ConfigError, match="0 synthetic"):
        privacy_metrics([], sets["source"], sets["holdout"], real_kb)
    with pytest.raises(ConfigError, match="0 source"):
        privacy_metrics(sets["synthetic"], [], sets["holdout"], real_kb)


# --- fidelity -----------------------------------------------------------------------------------
def test_fidelity_is_one_for_identical_frequency_profiles(real_kb: KnowledgeBase) -> None:
    a, b, c, d = terms_of(real_kb, 4)
    source = [
        make_case("s0", "OMIM:1", [a, b]),
        make_case("s1", "OMIM:1", [a, c]),
        make_case("s2", "OMIM:1", [b], [d]),
    ]
    # different patients, same frequencies (a 2/3, b 2/3, c 1/3, not-d 1/3), twice as many
    synthetic = [make_case(f"y{i}-0", "OMIM:1", [a, b, c], synthetic=True) for i in range(2)] + [
        make_case(f"y{i}-1", "OMIM:1", [a], [d], synthetic=True) for i in range(2)
    ]
    synthetic += [make_case(f"y{i}-2", "OMIM:1", [b], synthetic=True) for i in range(2)]
    metrics = fidelity_metrics(synthetic, source, real_kb)
    assert metrics.median_correlation == 1.0
    (row,) = metrics.per_disease
    assert (row.disease_id, row.n_source, row.n_synthetic) == ("OMIM:1", 3, 6)
    assert row.correlation == 1.0
    assert row.mean_abs_difference == 0.0
    assert metrics.mean_observed_source == pytest.approx(5 / 3, abs=1e-4)
    assert metrics.mean_observed_synthetic == pytest.approx(5 / 3, abs=1e-4)


def test_fidelity_of_a_distorted_profile_and_coverage(real_kb: KnowledgeBase) -> None:
    a, b, c, d = terms_of(real_kb, 4)
    source = [make_case(f"s{i}", "OMIM:1", [a, b] if i < 3 else [a]) for i in range(4)]
    source += [make_case("lone", "OMIM:2", [c])]  # one source case: not compared
    source += [make_case(f"m{i}", "OMIM:3", [d]) for i in range(2)]  # absent from synthetic
    # a: 1.0 and b: 0.75 in the source; a: 0.25 and b: 1.0 synthetic → anti-correlated
    synthetic = [make_case(f"y{i}", "OMIM:1", [a, b] if i == 0 else [b]) for i in range(4)]
    synthetic += [make_case("y-lone", "OMIM:2", [c])]
    metrics = fidelity_metrics(synthetic, source, real_kb)
    assert [row.disease_id for row in metrics.per_disease] == ["OMIM:1"]
    assert metrics.median_correlation == pytest.approx(-1.0)
    assert metrics.per_disease[0].mean_abs_difference == pytest.approx((0.75 + 0.25) / 2)
    assert (metrics.n_source_diseases, metrics.n_synthetic_diseases) == (3, 2)
    assert metrics.disease_coverage == pytest.approx(2 / 3)


# --- utility ------------------------------------------------------------------------------------
class FakeScorer:
    """Scores fixed per case id over three diseases."""

    def __init__(self, scores: dict[str, list[float]]) -> None:
        self.scores = scores
        self.calls: list[int] = []

    @property
    def disease_ids(self) -> Sequence[str]:
        return ["OMIM:1", "OMIM:2", "OMIM:3"]

    def score_cases(self, cases: Sequence[Case]) -> Any:
        self.calls.append(len(cases))
        return np.asarray([self.scores[c.id] for c in cases])


def test_topk_accuracy_ranks_pessimistically_and_counts_unknown_truths_as_misses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scorer = FakeScorer(
        {
            "first": [3.0, 1.0, 0.0],  # truth OMIM:1 ranked 1
            "tied": [1.0, 1.0, 0.0],  # truth OMIM:2 tied with OMIM:1: rank 2
            "third": [3.0, 2.0, 1.0],  # truth OMIM:3 ranked 3
            "unknown": [1.0, 0.0, 0.0],  # truth not scored by the predictor: a miss
            "undiagnosed": [1.0, 0.0, 0.0],  # no confirmed diagnosis: not evaluated
        }
    )
    cases = [
        make_case("first", "OMIM:1", []),
        make_case("tied", "OMIM:2", []),
        make_case("third", "OMIM:3", []),
        make_case("unknown", "OMIM:9", []),
        make_case("undiagnosed", None, []),
    ]
    monkeypatch.setattr(privacy, "SCORE_CHUNK", 2)
    metrics = topk_accuracy(scorer, cases, ks=(1, 2, 3))
    assert scorer.calls == [2, 2]
    assert metrics["n_cases"] == 4
    assert metrics["coverage"] == 0.75
    assert (metrics["top1"], metrics["top2"], metrics["top3"]) == (0.25, 0.5, 0.75)
    assert metrics["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 4, abs=1e-6)


def local_disease_sets(synthetic: bool, n: int, prefix: str) -> list[Case]:
    """Cases of a disease the tiny knowledge base lacks, and of its Disease B."""
    return [
        make_case(f"{prefix}{i}", "LOCAL:1", ["HP:0000707", "HP:0000478"], synthetic=synthetic)
        for i in range(n)
    ] + [
        make_case(
            f"{prefix}b{i}", "OMIM:100002", ["HP:0002069"], ["HP:0000505"], synthetic=synthetic
        )
        for i in range(n)
    ]


def test_utility_trains_on_synthetic_and_tests_on_real(tiny_kb: KnowledgeBase) -> None:
    synthetic = local_disease_sets(True, 6, "y")
    holdout = [*local_disease_sets(False, 3, "h"), make_case("x", None, ["HP:0002069"])]
    metrics = utility_metrics(synthetic, holdout, tiny_kb)
    assert (metrics.n_train, metrics.n_test) == (12, 6)
    # the knowledge base cannot rank LOCAL:1; the model learned it from the synthetic cases
    assert metrics.knowledge["coverage"] == 0.5
    assert metrics.learned["coverage"] == 1.0
    assert metrics.learned["top1"] == 1.0
    assert metrics.difference["top1"] == pytest.approx(0.5)
    assert metrics.learn_options["folds"] == 2


def test_utility_needs_enough_synthetic_cases(tiny_kb: KnowledgeBase) -> None:
    with pytest.raises(ConfigError, match="usable cases"):
        utility_metrics(local_disease_sets(True, 1, "y")[:1], [], tiny_kb)


@pytest.mark.slow
def test_utility_on_the_real_knowledge_base(real_kb: KnowledgeBase) -> None:
    rng = np.random.default_rng(0)
    terms = terms_of(real_kb, 90, start=2000)
    diseases = ("LOCAL:1", "LOCAL:2", "LOCAL:3")
    synthetic = random_cases(rng, 30, terms, diseases, prefix="y", synthetic=True)
    holdout = random_cases(rng, 15, terms, diseases, prefix="h")
    metrics = utility_metrics(synthetic, holdout, real_kb)
    assert metrics.knowledge["top10"] == 0.0  # none of these diseases is in the release
    assert metrics.learned["top1"] >= 0.8


# --- the report ---------------------------------------------------------------------------------
def images(html: str) -> list[bytes]:
    return [base64.b64decode(d) for d in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


def test_report_json_round_trips_and_records_provenance(real_kb: KnowledgeBase) -> None:
    sets = draws(real_kb, seed=6, n=40)
    report = build_report(
        sets["synthetic"],
        sets["source"],
        sets["holdout"],
        real_kb,
        sources={"synthetic": "synth/", "synthetic_sha256": "abc"},
        utility=False,
        near_copy=0.2,
    )
    assert report.utility is None
    assert report.privacy.near_copy_threshold == 0.2
    assert report.provenance.knowledge_version == real_kb.version
    assert report.provenance.parameters["sources"]["synthetic_sha256"] == "abc"
    assert report.provenance.parameters["near_copy"] == 0.2
    assert SynthReport.model_validate_json(report_json(report)) == report


def test_html_report_embeds_every_plot(tiny_kb: KnowledgeBase, tmp_path: Path) -> None:
    synthetic = local_disease_sets(True, 6, "y")
    source = local_disease_sets(False, 4, "s")
    holdout = local_disease_sets(False, 3, "h")
    report = build_report(synthetic, source, holdout, tiny_kb, sources={"source": "<site>"})
    path = write_report_html(report, tmp_path / "out" / "report.html")
    html = path.read_text(encoding="utf-8")
    pngs = images(html)
    assert len(pngs) == 4  # DCR histograms, MIA ROC, fidelity histogram, utility bars
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in pngs)
    assert "&lt;site&gt;" in html and "<site>" not in html
    assert "Membership-inference AUC" in html and "learned on 12 synthetic cases" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)

    without = report.model_copy(update={"utility": None})
    html = write_report_html(without, tmp_path / "bare.html").read_text(encoding="utf-8")
    assert len(images(html)) == 3 and "Not measured" in html
