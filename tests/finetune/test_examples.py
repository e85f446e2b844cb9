"""SFT examples: cases written as a clinician would, balanced, split by patient, both tasks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ocais.finetune.examples import (
    BINARY_QUESTION,
    DIAGNOSIS_QUESTION,
    RenderOptions,
    build_examples,
    case_text,
    parse_yes_no,
    write_jsonl,
)
from ocais.knowledge import KnowledgeBase
from ocais.schemas import Case, Diagnosis, PhenotypeObservation, Provenance, Sex, Subject
from ocais.synth.generate import SynthOptions, from_knowledge

DISEASES = {"OMIM:100001": "Disease A", "OMIM:100002": "Disease B", "ORPHA:100003": "Disease C"}


def case(
    terms: list[str], excluded: list[str] = (), *, sex: Sex = Sex.FEMALE, age: float | None = 7.2
) -> Case:  # type: ignore[assignment]
    return Case(
        id="c1",
        subject=Subject(sex=sex, age_years=age),
        phenotypes=[PhenotypeObservation(id=t) for t in terms]
        + [PhenotypeObservation(id=t, excluded=True) for t in excluded],
        diagnoses=[Diagnosis(disease_id="OMIM:100001")],
        provenance=Provenance(source="test", source_format="ocais"),
    )


def test_a_case_reads_as_a_clinician_would_write_it(tiny_kb: KnowledgeBase) -> None:
    rng = np.random.default_rng(0)
    # Seizure is an ancestor of Bilateral tonic-clonic seizure: only the specific term is kept
    text = case_text(
        case(["HP:0001250", "HP:0002069", "HP:0000505"], ["HP:0000478"]),
        tiny_kb,
        rng,
        RenderOptions(),
    )
    assert text.startswith("A 7-year-old girl with ")
    assert "bilateral tonic-clonic seizure" in text and "visual impairment" in text
    assert "seizure," not in text.replace("tonic-clonic seizure", "")
    assert text.endswith("No abnormality of the eye.")
    assert case_text(
        case(["HP:0000505"], sex=Sex.MALE, age=0.5), tiny_kb, rng, RenderOptions()
    ) == ("A 6-month-old boy with visual impairment.")
    assert case_text(case([], sex=Sex.UNKNOWN, age=None), tiny_kb, rng, RenderOptions()) == (
        "A patient with no recorded findings."
    )


def test_only_the_most_specific_findings_up_to_the_limit(tiny_kb: KnowledgeBase) -> None:
    text = case_text(
        case(["HP:0002069", "HP:0000505", "HP:0000707"]),
        tiny_kb,
        np.random.default_rng(0),
        RenderOptions(max_findings=1, max_excluded=0),
    )
    assert text.count(",") == 0 and " and " not in text


def test_yes_no_answers_are_read_leniently() -> None:
    assert parse_yes_no("Yes.") is True
    assert parse_yes_no(" no, it is not") is False
    assert parse_yes_no("**Yes**") is True
    assert parse_yes_no("Maybe") is None
    assert parse_yes_no("") is None


def test_examples_are_balanced_split_by_patient_and_mix_both_tasks(
    tiny_kb: KnowledgeBase, tmp_path: Path
) -> None:
    patients = from_knowledge(
        list(DISEASES), tiny_kb, SynthOptions(per_disease=30, seed=3, noise_rate=0.0)
    )
    examples = build_examples(
        patients, tiny_kb, DISEASES, binary_fraction=0.4, eval_fraction=0.2, seed=1
    )
    assert examples.counts == {d: 30 for d in DISEASES}
    everything = examples.train + examples.heldout
    assert len({e.case_id for e in everything}) == 90
    assert len({e.case_id for e in examples.heldout}) == 3 * 6  # 20% of each disease's patients
    assert not {e.case_id for e in examples.train} & {e.case_id for e in examples.heldout}
    binary = [e for e in everything if e.task == "binary"]
    assert 20 <= len({e.case_id for e in binary}) <= 55  # about 40% of the patients
    # each of them asked twice: about its own disease (yes) and another (no)
    for case_id in {e.case_id for e in binary}:
        answers = sorted(e.completion for e in binary if e.case_id == case_id)
        assert answers == ["no", "yes"]
    for example in examples.train + examples.heldout:
        if example.task == "diagnosis":
            assert example.prompt.endswith(DIAGNOSIS_QUESTION)
            assert example.completion == DISEASES[example.disease_id]
        else:
            assert example.asked_about in DISEASES
            asked = BINARY_QUESTION.format(disease=DISEASES[example.asked_about])
            assert example.prompt.endswith(asked)
            assert example.completion == (
                "yes" if example.asked_about == example.disease_id else "no"
            )
    again = build_examples(
        patients, tiny_kb, DISEASES, binary_fraction=0.4, eval_fraction=0.2, seed=1
    )
    assert [e.prompt for e in again.train] == [e.prompt for e in examples.train]

    digest = write_jsonl(examples.train, tmp_path / "train.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert len(rows) == len(examples.train) and len(digest) == 64
    assert rows[0]["prompt"] == [{"role": "user", "content": examples.train[0].prompt}]
    assert rows[0]["completion"][0]["role"] == "assistant"
