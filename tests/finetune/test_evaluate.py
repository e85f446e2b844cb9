"""Before/after evaluation with a scripted model: what is asked, how answers are read and
counted, the intervals, and which cases are left out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from ocais.finetune.evaluate import evaluate_adapter, proportion, write_evaluation_html
from ocais.finetune.examples import BINARY_QUESTION, RenderOptions
from ocais.knowledge import KnowledgeBase
from ocais.llm.base import ChatMessage, Completion
from ocais.llm.grounding import DiseaseGrounder
from ocais.synth.generate import SynthOptions, from_knowledge

NAMES = {"OMIM:100001": "Disease A", "OMIM:100002": "Disease B"}


class Scripted:
    """Without the adapter: rambles. With it: names the disease whose case it is told
    (through ``truth``, keyed by prompt), and answers yes only about that disease."""

    def __init__(self, truth: dict[str, str]) -> None:
        self.truth = truth
        self.enabled = True
        self.calls: list[tuple[bool, str]] = []

    @property
    def model(self) -> str:
        return "base+adapter" if self.enabled else "base"

    def use_adapter(self, enabled: bool) -> None:
        self.enabled = enabled

    def complete(
        self, messages: Sequence[ChatMessage], *, max_tokens: int = 0, temperature: float = 0.0
    ) -> Completion:
        prompt = messages[-1].content
        self.calls.append((self.enabled, prompt))
        text, _, question = prompt.rpartition("\n")
        disease = self.truth[text]
        if not self.enabled:
            answer = "The patient has many findings"
        elif question.startswith("Is the diagnosis"):
            answer = "Yes." if question == BINARY_QUESTION.format(disease=NAMES[disease]) else "No"
        else:
            answer = NAMES[disease]
        return Completion(text=answer, model=self.model)


@pytest.fixture
def cases(tiny_kb: KnowledgeBase):  # type: ignore[no-untyped-def]
    return from_knowledge(list(NAMES), tiny_kb, SynthOptions(per_disease=6, seed=2))


def scripted_for(cases, kb: KnowledgeBase) -> Scripted:  # type: ignore[no-untyped-def]
    from ocais.finetune.evaluate import questions_for, select_cases

    chosen, _ = select_cases(cases, kb, NAMES)
    truth = {}
    for question in questions_for(chosen, kb, NAMES, render=RenderOptions()):
        truth[question.prompt.rpartition("\n")[0]] = question.disease_id
    return Scripted(truth)


def test_the_tuned_model_is_scored_right_and_the_base_wrong(
    tiny_kb: KnowledgeBase,
    cases,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    model = scripted_for(cases, tiny_kb)
    report = evaluate_adapter(
        model,
        cases,
        tiny_kb,
        NAMES,
        grounder=DiseaseGrounder(tiny_kb),
        render=RenderOptions(),
        exclude=[cases[0].id],
        max_per_disease=4,
    )
    assert report["n"] == 8  # 4 per disease, the excluded one left out
    assert report["skipped"]["used_in_training"] == 1
    assert report["skipped"]["over_cap"] == 12 - 1 - 8
    assert report["models"] == {"before": "base", "after": "base+adapter"}
    before, after = report["before"], report["after"]
    assert before["accuracy"] == 0.0 and after["accuracy"] == 1.0
    assert after["sensitivity"] == 1.0 and after["specificity"] == 1.0
    assert before["answered_rate"] == 0.0 and after["answered_rate"] == 1.0
    assert (
        before["n_accuracy"] == 8 and before["n_sensitivity"] == 8 and before["n_specificity"] == 8
    )
    low, high = after["accuracy_ci"]
    assert 0.6 < low < 1.0 and high == 1.0  # Wilson: never [1, 1] on 8 cases
    assert report["difference"]["accuracy"] == 1.0
    assert [row["n"] for row in report["per_disease"]] == [4, 4]
    # specificity per disease: the questions asking about it, about other diseases' cases
    assert all(r["after"]["n_specificity"] == 4 for r in report["per_disease"])
    # both models were asked the very same questions
    asked_before = [p for enabled, p in model.calls if not enabled]
    asked_after = [p for enabled, p in model.calls if enabled]
    assert asked_before == asked_after and len(asked_before) == 24
    assert len(report["answers"]) == 24
    page = write_evaluation_html(
        {k: v for k, v in report.items() if k != "answers"}, tmp_path / "e.html"
    ).read_text()
    assert "Disease A" in page and "data:image/png;base64" in page


def test_cases_of_other_diseases_are_not_asked(tiny_kb: KnowledgeBase, cases) -> None:  # type: ignore[no-untyped-def]
    only_a = {"OMIM:100001": "Disease A"}
    model = scripted_for(cases, tiny_kb)
    model.truth = {k: v for k, v in model.truth.items() if v in only_a}
    report = evaluate_adapter(
        model, cases, tiny_kb, only_a, grounder=DiseaseGrounder(tiny_kb), render=RenderOptions()
    )
    assert report["n"] == 6 and report["skipped"]["other_disease"] == 6
    assert report["after"]["n_specificity"] == 0  # no other tuned disease to ask about
    assert report["after"]["specificity"] is None


def test_wilson_interval() -> None:
    assert proportion(0, 0) == (None, None, None)
    value, low, high = proportion(5, 10)
    assert (
        value == 0.5
        and low == pytest.approx(0.2366, abs=1e-3)
        and high == pytest.approx(0.7634, abs=1e-3)
    )
