"""Supervised fine-tuning examples: a patient written as a clinician would write it → the
grounded diagnosis (or, for the Table 1-style binary task, "yes"/"no" to "is this disease X?").

Training and evaluation render cases with the same code and the same prompts, so that the model
is asked at evaluation exactly what it learned to answer. The case text is built from the
structured case (sex, age, the most specific observed HPO terms, a few excluded ones): never
identifiers, never free text.

Examples are conversational prompt–completion pairs (TRL's format)::

    {"prompt": [{"role": "user", "content": "A 7-year-old girl with …\\nWhat is the most …"}],
     "completion": [{"role": "assistant", "content": "Angelman syndrome"}]}

balanced across diseases (the same number of patients each, as drawn), and split by case into
``train`` and ``heldout`` (every example of one patient on one side). A patient asked the binary
question is asked it twice, about its disease (yes) and another tuned one (no).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ocais.knowledge import KnowledgeBase
from ocais.learn.profiles import truth_of
from ocais.schemas import Case, Sex

PROMPT_VERSION = "finetune-diagnosis.v1"
DIAGNOSIS_QUESTION = "What is the most likely diagnosis? Answer with the disease name only."
BINARY_QUESTION = "Is the diagnosis {disease}? Answer yes or no."
YES, NO = "yes", "no"

Task = Literal["diagnosis", "binary"]


@dataclass(frozen=True)
class RenderOptions:
    """How much of a case is written (the most specific findings first)."""

    max_findings: int = 8
    max_excluded: int = 2


@dataclass
class Example:
    """One prompt–completion pair and what it is about."""

    id: str
    case_id: str
    disease_id: str
    task: Task
    prompt: str  # the user turn
    completion: str  # the model turn
    asked_about: str | None = None  # binary: the disease asked about

    def conversation(self) -> dict[str, list[dict[str, str]]]:
        return {
            "prompt": [{"role": "user", "content": self.prompt}],
            "completion": [{"role": "assistant", "content": self.completion}],
        }


@dataclass
class ExampleSet:
    """Examples split by case, the tuned diseases and what they were made from."""

    train: list[Example]
    heldout: list[Example]
    diseases: dict[str, str]  # id → the name the model learns to answer
    counts: dict[str, int] = field(default_factory=dict)  # patients per disease


# --- rendering ------------------------------------------------------------------------------------
def case_text(
    case: Case, kb: KnowledgeBase, rng: np.random.Generator, options: RenderOptions
) -> str:
    """One or two sentences: "A 7-year-old girl with a, b and c. No d or e." """
    observed = _most_specific(kb, list(case.observed), options.max_findings)
    excluded = _most_specific(kb, list(case.excluded), options.max_excluded)
    observed = [observed[i] for i in rng.permutation(len(observed))]
    text = f"{_who(case)} with {_join(observed, 'and') if observed else 'no recorded findings'}."
    if excluded:
        text += f" No {_join(excluded, 'or')}."
    return text


def diagnosis_prompt(text: str) -> str:
    return f"{text}\n{DIAGNOSIS_QUESTION}"


def binary_prompt(text: str, disease: str) -> str:
    return f"{text}\n{BINARY_QUESTION.format(disease=disease)}"


def parse_yes_no(answer: str) -> bool | None:
    """True for an answer starting with yes, False for no, None otherwise."""
    words = answer.strip().casefold().split()
    first = words[0].strip("*\"'.,!:;") if words else ""
    return True if first == YES else False if first == NO else None


def _who(case: Case) -> str:
    age = case.subject.age_years
    sex = case.subject.sex
    child = age is not None and age < 18
    noun = {
        Sex.FEMALE: "girl" if child else "woman",
        Sex.MALE: "boy" if child else "man",
    }.get(sex, "child" if child else "patient")
    if age is None:
        return f"A {noun}" if noun != "patient" else "A patient"
    if age < 1:
        months = max(0, round(age * 12))
        return f"A {months}-month-old {noun}" if months else f"A newborn {noun}"
    return f"A {round(age)}-year-old {noun}"


def _most_specific(kb: KnowledgeBase, terms: Sequence[str], limit: int) -> list[str]:
    """Labels of up to ``limit`` terms, most informative first, without a term whose
    descendant is also listed."""
    if limit <= 0:
        return []
    resolved = sorted({r for t in terms if (r := kb.resolve_id(t)) is not None})
    ic = kb.information_content
    resolved.sort(key=lambda t: (-float(ic[kb.term_index[t]]), t))
    chosen: list[str] = []
    covered: set[str] = set()
    for term in resolved:
        if term in covered:
            continue
        chosen.append(term)
        covered.update(kb.ancestors(term))
        if len(chosen) == limit:
            break
    return [_lower_first(kb.name(t)) for t in chosen]


def _lower_first(label: str) -> str:
    first, _, rest = label.partition(" ")
    if len(first) > 1 and first[1:].islower():  # "Seizure" → "seizure"; keep "EEG", "IgA"
        first = first.lower()
    return f"{first} {rest}" if rest else first


def _join(items: Sequence[str], word: str) -> str:
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


# --- examples -------------------------------------------------------------------------------------
def disease_names(kb: KnowledgeBase, disease_ids: Sequence[str]) -> dict[str, str]:
    """The name each disease is answered with (the knowledge base's name)."""
    names: dict[str, str] = {}
    for disease in disease_ids:
        try:
            names[disease] = kb.disease_name(disease)
        except LookupError:
            names[disease] = disease
    return names


def build_examples(
    cases: Sequence[Case],
    kb: KnowledgeBase,
    diseases: Mapping[str, str],
    *,
    binary_fraction: float = 0.3,
    eval_fraction: float = 0.1,
    render: RenderOptions | None = None,
    seed: int = 0,
) -> ExampleSet:
    """Examples of each patient of a tuned disease: a diagnosis question or, with probability
    ``binary_fraction``, a pair of yes/no questions — "is it X?" about its own disease (yes) and
    about another tuned disease (no) — so that the answer depends on the findings, not on a
    prior for "yes". Patients are split by case: ``eval_fraction`` of them (by a seeded shuffle
    within each disease) go to ``heldout``, with all their examples."""
    render = render or RenderOptions()
    rng = np.random.default_rng(seed)
    others = list(diseases)
    by_disease: dict[str, list[Case]] = {d: [] for d in diseases}
    for case in sorted(cases, key=lambda c: c.id):
        truth = truth_of(case)
        if truth in by_disease:
            by_disease[truth].append(case)
    train: list[Example] = []
    heldout: list[Example] = []
    for disease, members in by_disease.items():
        n_heldout = round(len(members) * eval_fraction)
        order = rng.permutation(len(members))
        held = {members[i].id for i in order[:n_heldout]}
        for case in members:
            text = case_text(case, kb, rng, render)
            side = heldout if case.id in held else train
            if len(others) > 1 and rng.random() < binary_fraction:
                other = str(rng.choice([d for d in others if d != disease]))
                pair = [(disease, YES), (other, NO)]
                for asked, answer in pair if rng.random() < 0.5 else pair[::-1]:
                    side.append(
                        Example(
                            id=f"{case.id}:binary:{answer}",
                            case_id=case.id,
                            disease_id=disease,
                            task="binary",
                            prompt=binary_prompt(text, diseases[asked]),
                            completion=answer,
                            asked_about=asked,
                        )
                    )
            else:
                side.append(
                    Example(
                        id=f"{case.id}:diagnosis",
                        case_id=case.id,
                        disease_id=disease,
                        task="diagnosis",
                        prompt=diagnosis_prompt(text),
                        completion=diseases[disease],
                    )
                )
    order = rng.permutation(len(train))  # diseases interleaved in training
    return ExampleSet(
        train=[train[i] for i in order],
        heldout=heldout,
        diseases=dict(diseases),
        counts={d: len(m) for d, m in by_disease.items()},
    )


# --- files ------------------------------------------------------------------------------------
def write_jsonl(examples: Sequence[Example], path: Path) -> str:
    """Write one JSON object per example (its fields and the conversation); returns the
    file's SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(asdict(e) | e.conversation(), ensure_ascii=False) for e in examples]
    data = ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def to_datasets(examples: ExampleSet) -> Any:
    """A ``datasets.DatasetDict`` (``train``, ``heldout``) of the conversations alone (TRL's
    conversational prompt–completion format)."""
    import datasets
    from datasets import Dataset, DatasetDict

    datasets.disable_progress_bars()

    def table(items: Sequence[Example]) -> Any:
        rows = [e.conversation() for e in items]
        return (
            Dataset.from_list(rows) if rows else Dataset.from_dict({"prompt": [], "completion": []})
        )

    return DatasetDict({"train": table(examples.train), "heldout": table(examples.heldout)})
