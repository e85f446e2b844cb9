"""The synthetic evaluation set (generator and scoring) and its accuracy on the real release."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path
from typing import Any

import pytest

from ocais.ingest.text import ConceptRecognizer, Mention, extract_phenotypes
from ocais.ingest.text.evaluation import (
    PERTURBATIONS,
    Example,
    GoldTerm,
    generate_examples,
    perturb,
    pluralize,
    score,
)
from ocais.schemas import Case, PhenotypeObservation, Provenance

COMMITTED_SET = Path(__file__).resolve().parents[2] / "benchmarks/data/notes_eval.jsonl"


def case(name: str, observed: list[str], excluded: list[str]) -> Case:
    phenotypes = [PhenotypeObservation(id=i) for i in observed]
    phenotypes += [PhenotypeObservation(id=i, excluded=True) for i in excluded]
    provenance = Provenance(source="test", source_format="test", record_id=name)
    return Case(id=name, external_id=name, phenotypes=phenotypes, provenance=provenance)


@pytest.fixture
def tiny_cases() -> list[Case]:
    return [
        case("A", ["HP:0001250", "HP:0000505", "HP:0002069"], ["HP:0000478"]),
        case("B", ["HP:0002069", "HP:0001251"], ["HP:0000505", "HP:0001250"]),  # an alt id
        case("C", [], ["HP:0000505"]),  # nothing observed: not used
    ]


def test_generation_is_deterministic_and_labelled(tiny_kb: Any, tiny_cases: list[Case]) -> None:
    first = generate_examples(tiny_cases, tiny_kb, n_main=60, n_heldout=20, n_blind=20, n_hard=9)
    again = generate_examples(tiny_cases, tiny_kb, n_main=60, n_heldout=20, n_blind=20, n_hard=9)
    other = generate_examples(tiny_cases, tiny_kb, n_main=60, n_heldout=20, n_blind=20, seed=1)
    assert first == again and first != other
    counts = [sum(e.subset == s for e in first) for s in ("main", "heldout", "blind", "hard")]
    assert counts[:3] == [60, 20, 20]
    assert 0 < counts[3] <= 9  # the tiny release's labels do not allow every perturbation
    assert len({e.id for e in first}) == len(first)
    assert {e.case for e in first} <= {"A", "B"}
    for example in first:
        assert all(g.id in tiny_kb.term_index for g in example.gold)  # alt ids resolved
        if example.template == "distractor":
            assert example.gold == []
        assert "{" not in example.text
    assert {e.perturbation for e in first if e.subset == "hard"} <= set(PERTURBATIONS)


def test_generated_sentences_are_recognized(tiny_kb: Any, tiny_cases: list[Case]) -> None:
    examples = generate_examples(tiny_cases, tiny_kb, n_main=200, n_heldout=50, n_blind=50)
    examples = [e for e in examples if e.subset != "hard"]
    recognizer = ConceptRecognizer(tiny_kb)
    predictions = [extract_phenotypes(e.text, recognizer) for e in examples]
    result = score(examples, predictions, tiny_kb.resolve_id)
    assert result["overall"]["f1"] >= 0.9, result


def test_score_counts_pairs_per_status_and_resolves_ids() -> None:
    examples = [
        Example(
            id="s1",
            text="x",
            gold=[GoldTerm(id="HP:0000001", status="observed")],
            subset="main",
            template="t",
        ),
        Example(
            id="s2",
            text="x",
            gold=[GoldTerm(id="HP:0000002", status="excluded")],
            subset="main",
            template="t",
        ),
    ]

    def mention(term: str, **flags: bool) -> Mention:
        return Mention(id=term, label="l", text="x", start=0, end=1, matched="x", **flags)

    predictions = [
        [mention("HP:0000009"), mention("HP:0000003", family=True)],  # HP:0000009 → HP:0000001
        [mention("HP:0000002")],  # right term, wrong status
    ]
    resolve = {"HP:0000009": "HP:0000001"}.get
    result = score(examples, predictions, resolve)
    assert result["observed"] == {
        "precision": 0.5,
        "recall": 1.0,
        "f1": 0.6667,
        "tp": 1,
        "fp": 1,
        "fn": 0,
    }
    assert result["excluded"]["recall"] == 0.0 and result["excluded"]["fn"] == 1
    assert result["family"]["fp"] == 1 and result["uncertain"]["tp"] == 0
    assert (result["overall"]["tp"], result["overall"]["fp"], result["overall"]["fn"]) == (1, 2, 1)
    assert result["terms"]["tp"] == 2 and result["terms"]["fp"] == 1


def test_perturbations() -> None:
    import random

    rng = random.Random(0)
    assert perturb("Generalized tonic seizure", "inversion", rng) == "seizure, Generalized tonic"
    assert perturb("Hypoplasia of the thumb", "of_flip", rng) == "thumb Hypoplasia"
    assert perturb("Hypoplasia of the thumb", "adjectival", rng) == "hypoplastic thumb"
    assert perturb("Thumb hypoplasia", "reverse_of", rng) == "hypoplasia of the Thumb"
    assert perturb("Anemia", "british", rng) == "anaemia"
    assert perturb("Tonic-clonic seizure", "hyphen", rng) == "Tonic clonic seizure"
    assert perturb("Seizure", "of_flip", rng) is None
    typo = perturb("Microcephaly", "typo", rng)
    assert typo is not None and len(typo) == len("Microcephaly") - 1
    assert [pluralize(w) for w in ("seizure", "anomaly", "scoliosis", "reflex", "teeth")] == [
        "seizures",
        "anomalies",
        "scolioses",
        "reflexes",
        "teeth",
    ]


@pytest.mark.slow
def test_f1_on_sentences_from_real_phenopackets(real_kb: Any, phenopacket_archive: Path) -> None:
    from ocais.ingest.base import ReaderContext
    from ocais.ingest.phenopacket import PhenopacketReader

    records = PhenopacketReader(ReaderContext(terms=real_kb)).read(phenopacket_archive)
    cases = [r for r in itertools.islice(records, 300) if isinstance(r, Case)]
    examples = generate_examples(cases, real_kb, n_main=200, n_heldout=50, n_blind=50, n_hard=0)
    assert len(examples) == 300
    recognizer = ConceptRecognizer(real_kb)
    predictions = [extract_phenotypes(e.text, recognizer) for e in examples]
    result = score(examples, predictions, real_kb.resolve_id)
    assert result["overall"]["f1"] >= 0.85, result
    for status in ("observed", "excluded", "family", "uncertain"):
        assert result[status]["f1"] >= 0.8, (status, result[status])


@pytest.mark.slow
def test_committed_set_matches_the_generator(real_kb: Any, phenopacket_archive: Path) -> None:
    """benchmarks/data/notes_eval.jsonl is `python benchmarks/bench_text.py --write`'s output."""
    from ocais.ingest.base import ReaderContext
    from ocais.ingest.phenopacket import PhenopacketReader

    reader = PhenopacketReader(ReaderContext(terms=real_kb))
    cases = [r for r in reader.read(phenopacket_archive) if isinstance(r, Case)]
    body = "".join(e.model_dump_json() + "\n" for e in generate_examples(cases, real_kb))
    committed = COMMITTED_SET.read_bytes()
    assert hashlib.sha256(body.encode()).hexdigest() == hashlib.sha256(committed).hexdigest(), (
        "regenerate it: python benchmarks/bench_text.py --write"
    )
    assert len(committed) < 2_000_000
