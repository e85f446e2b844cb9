"""Synthetic patient generation (ocais.synth.generate) and its phenopacket files
(ocais.synth.phenopackets)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ocais.errors import ConfigError, UnknownDiseaseError
from ocais.ingest.base import ReaderContext
from ocais.ingest.phenopacket import PhenopacketReader
from ocais.knowledge import KnowledgeBase
from ocais.learn.profiles import CaseProfiles, truth_of
from ocais.schemas import Case, Sex, Subject
from ocais.synth.generate import (
    SynthOptions,
    annotated_diseases,
    from_cases,
    from_knowledge,
)
from ocais.synth.phenopackets import MANIFEST_FILE, read_manifest, write_phenopackets
from tests.synth.cases import make_case

Signature = tuple[frozenset[str], frozenset[str], str | None]


def signature(case: Case) -> Signature:
    """What makes a case a copy: its observed and excluded terms and its diagnosis."""
    observed = frozenset(p.id for p in case.phenotypes if not p.excluded)
    excluded = frozenset(p.id for p in case.phenotypes if p.excluded)
    return observed, excluded, truth_of(case)


def person(case: Case) -> tuple[Signature, Sex, float | None]:
    return signature(case), case.subject.sex, case.subject.age_years


def positive_annotations(kb: KnowledgeBase, disease_id: str) -> list[str]:
    """Terms annotated to the disease that a patient can be drawn with."""
    phenotypic = phenotypic_terms(kb)
    return sorted(
        {
            item.id
            for item in kb.disease(disease_id).phenotypes
            if not item.excluded and item.frequency != 0 and item.id in phenotypic
        }
    )


_PHENOTYPIC: dict[int, frozenset[str]] = {}


def phenotypic_terms(kb: KnowledgeBase) -> frozenset[str]:
    """Terms under Phenotypic abnormality (what patients are drawn with), cached per kb."""
    if id(kb) not in _PHENOTYPIC:
        _PHENOTYPIC[id(kb)] = frozenset(kb.descendants("HP:0000118")) - {"HP:0000118"}
    return _PHENOTYPIC[id(kb)]


def rich_diseases(kb: KnowledgeBase, n: int, min_terms: int = 15) -> list[str]:
    """The first ``n`` annotated OMIM diseases with at least ``min_terms`` drawable terms."""
    chosen = []
    for disease in annotated_diseases(kb, ("OMIM",)):
        if len(positive_annotations(kb, disease)) >= min_terms:
            chosen.append(disease)
            if len(chosen) == n:
                break
    return chosen


def source_cases(
    kb: KnowledgeBase, diseases: Sequence[str], per_disease: int, seed: int = 0, prefix: str = "s"
) -> list[Case]:
    """``per_disease`` cases of each disease, each 4–8 of its annotated terms, with sex and age."""
    rng = np.random.default_rng(seed)
    cases = []
    for disease in diseases:
        pool = positive_annotations(kb, disease)
        for i in range(per_disease):
            chosen = rng.choice(pool, size=min(len(pool), int(rng.integers(4, 9))), replace=False)
            case = make_case(f"{prefix}-{disease}-{i}", disease, [str(t) for t in chosen])
            sex = Sex.FEMALE if rng.random() < 0.5 else Sex.MALE
            age = round(float(rng.uniform(0.5, 60.0)), 2)
            cases.append(case.model_copy(update={"subject": Subject(sex=sex, age_years=age)}))
    return cases


@pytest.fixture(scope="module")
def diseases(real_kb: KnowledgeBase) -> list[str]:
    return rich_diseases(real_kb, 3)


@pytest.fixture(scope="module")
def cases(real_kb: KnowledgeBase, diseases: list[str]) -> list[Case]:
    return source_cases(real_kb, diseases, 8)


# --- reproducibility --------------------------------------------------------------------------
def test_same_seed_same_patients_other_seed_other_patients(
    real_kb: KnowledgeBase, cases: list[Case]
) -> None:
    first = from_cases(cases, real_kb, SynthOptions(seed=7))
    again = from_cases(cases, real_kb, SynthOptions(seed=7))
    other = from_cases(cases, real_kb, SynthOptions(seed=8))
    assert len(first) == 3 * len(cases)  # multiplier 3
    assert [person(c) for c in first] == [person(c) for c in again]
    assert [c.id for c in first] == [c.id for c in again], "ids are deterministic too"
    assert [person(c) for c in first] != [person(c) for c in other]
    assert all(c.synthetic and c.external_id and c.external_id.startswith("synth-") for c in first)


# --- never a copy -----------------------------------------------------------------------------
def test_no_synthetic_case_copies_a_source_case(real_kb: KnowledgeBase, cases: list[Case]) -> None:
    # a disease with one short source case: an unguarded generator would replay it often
    lonely = source_cases(real_kb, rich_diseases(real_kb, 4)[3:], 1, seed=5, prefix="one")
    lonely = [c.model_copy(update={"phenotypes": c.phenotypes[:2]}) for c in lonely]
    options = SynthOptions(
        seed=1, min_cases=1, per_disease=60, noise_rate=0.0, ancestor_rate=0.0, prior_strength=0.2
    )
    synthetic = from_cases([*cases, *lonely], real_kb, options)
    originals = {signature(c) for c in [*cases, *lonely]}
    assert synthetic
    assert not [c for c in synthetic if signature(c) in originals]
    lonely_terms = signature(lonely[0])[0]
    for case in synthetic:
        if truth_of(case) == truth_of(lonely[0]):
            observed = signature(case)[0]
            distance = 1 - len(observed & lonely_terms) / len(observed | lonely_terms)
            assert distance > options.min_distance


def test_every_synthetic_case_names_its_provenance(
    real_kb: KnowledgeBase, cases: list[Case]
) -> None:
    synthetic = from_cases(cases, real_kb, SynthOptions(seed=2), source="unit test")
    params = synthetic[0].provenance.parameters
    assert params["generator"] == "from-cases"
    assert params["seed"] == 2 and params["n_source_cases"] == len(cases)
    assert (
        params["source_sha256"] == CaseProfiles.from_cases(cases, real_kb).sources["cases_sha256"]
    )
    assert synthetic[0].provenance.knowledge_version == real_kb.version
    assert {truth_of(c) for c in synthetic} == {truth_of(c) for c in cases}


def test_from_cases_needs_a_confirmed_diagnosis(real_kb: KnowledgeBase) -> None:
    with pytest.raises(ConfigError, match="confirmed diagnosis"):
        from_cases([make_case("x", None, ["HP:0001250"])], real_kb)


# --- differential privacy ---------------------------------------------------------------------
def dp_cases(real_kb: KnowledgeBase) -> list[Case]:
    """20 diseases the knowledge base lacks, 40 cases each with 2 of the disease's 4 terms:
    every count is about 20, far from the clip at 0 for the noise scales tested."""
    rng = np.random.default_rng(0)
    terms = list(real_kb.term_ids[2000:2080])
    cases = []
    for d in range(20):
        pool = terms[4 * d : 4 * d + 4]
        for i in range(40):
            chosen = [str(t) for t in rng.choice(pool, size=2, replace=False)]
            cases.append(make_case(f"dp-{d}-{i}", f"TEST:{d}", chosen))
    return cases


def test_privatized_counts_have_laplace_noise_of_scale_sensitivity_over_epsilon(
    real_kb: KnowledgeBase,
) -> None:
    profiles = CaseProfiles.from_cases(dp_cases(real_kb), real_kb, max_terms=2)
    assert profiles.sensitivity == 7.0
    original = profiles.observed.toarray()
    counted = original >= 10
    assert counted.sum() == 80
    deviations = {}
    for epsilon in (7.0, 70.0):
        noise = []
        for seed in range(10):
            private = profiles.privatized(epsilon, real_kb, seed=seed)
            assert private.epsilon == epsilon
            assert private.sources["dp_scale"] == pytest.approx(7.0 / epsilon)
            noise.append((private.observed.toarray() - original)[counted])
        # the mean absolute deviation of Laplace(0, b) is b
        deviations[epsilon] = float(np.mean(np.abs(np.concatenate(noise))))
    assert deviations[7.0] == pytest.approx(1.0, rel=0.15)
    assert deviations[70.0] == pytest.approx(0.1, rel=0.15)
    assert deviations[70.0] < deviations[7.0]


def test_privatized_rejects_a_non_positive_epsilon(real_kb: KnowledgeBase) -> None:
    profiles = CaseProfiles.from_cases(dp_cases(real_kb)[:10], real_kb)
    with pytest.raises(ConfigError, match="epsilon"):
        profiles.privatized(0.0, real_kb)


def test_from_cases_with_differential_privacy(real_kb: KnowledgeBase, cases: list[Case]) -> None:
    synthetic = from_cases(cases, real_kb, SynthOptions(seed=3, epsilon=1.0))
    assert synthetic
    assert synthetic[0].provenance.parameters["epsilon"] == 1.0
    assert all(c.observed for c in synthetic)
    plain = from_cases(cases, real_kb, SynthOptions(seed=3))
    assert [person(c) for c in synthetic] != [person(c) for c in plain]


# --- knowledge-driven -------------------------------------------------------------------------
def test_from_knowledge_draws_only_annotated_terms(
    real_kb: KnowledgeBase, diseases: list[str]
) -> None:
    options = SynthOptions(seed=4, per_disease=40, noise_rate=0.0, ancestor_rate=0.0)
    synthetic = from_knowledge(diseases, real_kb, options)
    assert len(synthetic) == 40 * len(diseases)
    for disease in diseases:
        annotated = set(positive_annotations(real_kb, disease))
        drawn = [c for c in synthetic if truth_of(c) == disease]
        assert len(drawn) == 40
        for case in drawn:
            assert case.observed and set(case.observed) <= annotated


def test_from_knowledge_on_the_tiny_kb(tiny_kb: KnowledgeBase) -> None:
    options = SynthOptions(seed=0, per_disease=30, noise_rate=0.0, ancestor_rate=0.0)
    synthetic = from_knowledge(["OMIM:100001", "OMIM:100002", "ORPHA:100003"], tiny_kb, options)
    by_disease = {
        d: [c for c in synthetic if truth_of(c) == d] for d in {truth_of(c) for c in synthetic}
    }
    assert all(set(c.observed) <= {"HP:0001250", "HP:0000505"} for c in by_disease["OMIM:100001"])
    assert all(c.observed == ["HP:0002069"] for c in by_disease["OMIM:100002"])
    # B's NOT annotation is a pertinent negative some patients record
    negatives = {p.id for c in by_disease["OMIM:100002"] for p in c.phenotypes if p.excluded}
    assert negatives == {"HP:0000505"}
    # C is annotated in females only
    assert {c.subject.sex for c in by_disease["ORPHA:100003"]} == {Sex.FEMALE}


def test_from_knowledge_with_noise_stays_near_the_disease(
    real_kb: KnowledgeBase, diseases: list[str]
) -> None:
    synthetic = from_knowledge(diseases[:1], real_kb, SynthOptions(seed=0, per_disease=50))
    annotated = set(positive_annotations(real_kb, diseases[0]))
    extra = [t for c in synthetic for t in c.observed if t not in annotated]
    assert extra, "parents and unrelated findings appear with the default noise"
    assert len(extra) < sum(len(c.observed) for c in synthetic) / 2


def test_from_knowledge_rejects_unknown_diseases(real_kb: KnowledgeBase) -> None:
    with pytest.raises(UnknownDiseaseError, match="OMIM:999999999"):
        from_knowledge(["OMIM:999999999"], real_kb)
    with pytest.raises(ConfigError):
        from_knowledge([], real_kb)


def test_annotated_diseases_can_all_be_drawn(tiny_kb: KnowledgeBase) -> None:
    ids = annotated_diseases(tiny_kb)
    assert ids == ["OMIM:100001", "OMIM:100002", "ORPHA:100003"]
    assert len(from_knowledge(ids, tiny_kb, SynthOptions(per_disease=1))) == 3


# --- small groups -----------------------------------------------------------------------------
def test_small_groups_come_from_the_knowledge_base_or_are_left_out(
    real_kb: KnowledgeBase, diseases: list[str]
) -> None:
    big = source_cases(real_kb, diseases[:1], 6, prefix="big")
    small_known = source_cases(real_kb, diseases[1:2], 2, prefix="small")
    terms = list(real_kb.term_ids[3000:3010])
    small_new = [make_case(f"new-{i}", "TEST:small", terms[i : i + 4]) for i in range(2)]
    big_new = [make_case(f"bignew-{i}", "TEST:big", terms[i : i + 5]) for i in range(5)]
    source = [*big, *small_known, *small_new, *big_new]
    synthetic = from_cases(source, real_kb, SynthOptions(seed=0, min_cases=4))
    params = synthetic[0].provenance.parameters
    assert params["small_groups_from_knowledge"] == 1
    assert params["small_groups_left_out"] == 1
    drawn = {truth_of(c) for c in synthetic}
    assert drawn == {diseases[0], diseases[1], "TEST:big"}, "a new disease with enough cases"
    assert sum(truth_of(c) == diseases[1] for c in synthetic) == 6  # 2 cases × multiplier 3
    everything = from_cases(source, real_kb, SynthOptions(seed=0, min_cases=1))
    assert "TEST:small" in {truth_of(c) for c in everything}


# --- phenopacket files ------------------------------------------------------------------------
def read_back(directory: Path, kb: KnowledgeBase) -> list[Case]:
    records = list(PhenopacketReader(ReaderContext(terms=kb)).read(directory))
    assert all(isinstance(r, Case) for r in records), records
    return [r for r in records if isinstance(r, Case)]


def test_phenopacket_round_trip(tmp_path: Path, real_kb: KnowledgeBase, cases: list[Case]) -> None:
    synthetic = from_cases(cases, real_kb, SynthOptions(seed=0, per_disease=5))
    manifest_path = write_phenopackets(synthetic, tmp_path / "set", {"generator": "from-cases"})
    assert manifest_path == tmp_path / "set" / MANIFEST_FILE
    back = {c.external_id: c for c in read_back(tmp_path / "set", real_kb)}
    assert len(back) == len(synthetic), "the manifest is not read as a packet"
    for case in synthetic:
        assert case.external_id is not None
        copy = back[case.external_id]
        assert copy.external_id.startswith("synth-")
        assert signature(copy) == signature(case)
        assert copy.subject.sex == case.subject.sex
        if case.subject.age_years is None:
            assert copy.subject.age_years is None
        else:
            assert copy.subject.age_years == pytest.approx(case.subject.age_years, abs=1 / 12)
    packet_file = tmp_path / "set" / "phenopackets" / f"{synthetic[0].external_id}.json"
    meta = json.loads(packet_file.read_text())["metaData"]
    assert "synth from-cases" in meta["createdBy"]
    reference = meta["externalReferences"][0]
    assert reference["id"].startswith("ocais:synthetic/")
    assert "SYNTHETIC" in reference["description"]
    manifest = read_manifest(tmp_path / "set")
    assert manifest["synthetic"] is True and manifest["generator"] == "from-cases"
    assert manifest["n_cases"] == len(synthetic) and manifest["n_diseases"] == 3
    assert read_manifest(tmp_path) == {}


def test_write_phenopackets_refuses_a_non_empty_directory(
    tmp_path: Path, tiny_kb: KnowledgeBase
) -> None:
    synthetic = from_knowledge(["OMIM:100001"], tiny_kb, SynthOptions(per_disease=3))
    target = tmp_path / "set"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        write_phenopackets(synthetic, target, {})
    assert (target / "keep.txt").read_text() == "mine"
    write_phenopackets(synthetic, target, {}, overwrite=True)
    assert not (target / "keep.txt").exists()
    assert len(list((target / "phenopackets").glob("*.json"))) == 3
    with pytest.raises(ConfigError, match="no synthetic case"):
        write_phenopackets([], tmp_path / "empty", {})
