"""Before/after evaluation of an adapter on real held-out cases: the same base model with the
adapter off and on (one load, :meth:`TransformersBackend.use_adapter`), asked the questions it
was tuned on:

* **which of the tuned diseases** — the diagnosis question; the answer is grounded to the tuned
  diseases (:class:`~ocais.llm.grounding.DiseaseGrounder`) and counts when it names the case's
  disease (the same MONDO group);
* **Table 1-style binary tasks** — "is the diagnosis X? yes or no", once about the case's own
  disease (sensitivity) and once about another tuned disease (specificity).

Only cases whose diagnosis is among the adapter's diseases are asked; cases that went into the
synthetic training set are left out and counted. Proportions carry Wilson 95% intervals, the
accuracy difference a paired bootstrap interval.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ocais import __version__
from ocais.evaluate.html import image, page, write_page
from ocais.evaluate.plots import new_figure, png_base64
from ocais.evaluate.validation import paired_bootstrap
from ocais.finetune.examples import (
    RenderOptions,
    binary_prompt,
    case_text,
    diagnosis_prompt,
    parse_yes_no,
)
from ocais.knowledge import KnowledgeBase
from ocais.learn.profiles import truth_of
from ocais.llm.base import ChatMessage, Completion
from ocais.llm.grounding import DiseaseGrounder
from ocais.schemas import Case

Progress = Callable[[str, int, int | None], None]
DIAGNOSIS_TOKENS = 32
BINARY_TOKENS = 4


class AdapterModel(Protocol):
    """What the evaluation needs of a backend: answers, with the adapter on or off."""

    @property
    def model(self) -> str: ...

    def complete(
        self, messages: Sequence[ChatMessage], *, max_tokens: int = ..., temperature: float = ...
    ) -> Completion: ...

    def use_adapter(self, enabled: bool) -> None: ...


@dataclass(frozen=True)
class Question:
    case_id: str
    disease_id: str  # the case's (tuned) disease
    kind: str  # diagnosis | positive | negative
    prompt: str
    asked_about: str | None = None


def select_cases(
    cases: Sequence[Case],
    kb: KnowledgeBase,
    diseases: Collection[str],
    *,
    exclude: Collection[str] = (),
    max_per_disease: int | None = None,
    seed: int = 0,
) -> tuple[dict[str, list[Case]], dict[str, int]]:
    """The cases of each tuned disease (same MONDO group), at most ``max_per_disease`` each (a
    seeded sample), and counts of what was left out and why."""
    group_of = {kb.disease_group(d): d for d in diseases}
    chosen: dict[str, list[Case]] = {d: [] for d in diseases}
    skipped = {"no_diagnosis": 0, "other_disease": 0, "used_in_training": 0, "over_cap": 0}
    excluded = set(exclude)
    for case in sorted(cases, key=lambda c: c.id):
        truth = truth_of(case)
        if truth is None:
            skipped["no_diagnosis"] += 1
            continue
        disease = group_of.get(kb.disease_group(truth))
        if disease is None:
            skipped["other_disease"] += 1
        elif case.id in excluded:
            skipped["used_in_training"] += 1
        else:
            chosen[disease].append(case)
    rng = np.random.default_rng(seed)
    for disease, members in chosen.items():
        if max_per_disease is not None and len(members) > max_per_disease:
            keep = sorted(rng.choice(len(members), size=max_per_disease, replace=False).tolist())
            skipped["over_cap"] += len(members) - max_per_disease
            chosen[disease] = [members[i] for i in keep]
    return chosen, skipped


def questions_for(
    chosen: Mapping[str, Sequence[Case]],
    kb: KnowledgeBase,
    names: Mapping[str, str],
    *,
    render: RenderOptions,
    seed: int = 0,
) -> list[Question]:
    """Three questions per case (diagnosis, binary about its disease, binary about another)."""
    questions: list[Question] = []
    tuned = list(names)
    for disease, members in chosen.items():
        for case in members:
            rng = np.random.default_rng([seed, _stable(case.id)])
            text = case_text(case, kb, rng, render)
            questions.append(Question(case.id, disease, "diagnosis", diagnosis_prompt(text)))
            questions.append(
                Question(case.id, disease, "positive", binary_prompt(text, names[disease]), disease)
            )
            others = [d for d in tuned if d != disease]
            if others:
                other = others[int(rng.integers(len(others)))]
                questions.append(
                    Question(case.id, disease, "negative", binary_prompt(text, names[other]), other)
                )
    return questions


def ask(
    backend: AdapterModel,
    questions: Sequence[Question],
    *,
    label: str,
    progress: Progress | None = None,
) -> list[str]:
    """The model's answer to each question (greedy)."""
    answers = []
    for number, question in enumerate(questions, start=1):
        tokens = DIAGNOSIS_TOKENS if question.kind == "diagnosis" else BINARY_TOKENS
        completion = backend.complete(
            [ChatMessage("user", question.prompt)], max_tokens=tokens, temperature=0.0
        )
        answers.append(completion.text.strip())
        if progress is not None:
            progress(label, number, len(questions))
    return answers


def score(
    questions: Sequence[Question],
    answers: Sequence[str],
    kb: KnowledgeBase,
    grounder: DiseaseGrounder,
    names: Mapping[str, str],
) -> list[dict[str, Any]]:
    """One row per question: the answer, what it was read as, and whether it is right."""
    tuned = list(names)
    rows = []
    for question, answer in zip(questions, answers, strict=True):
        row: dict[str, Any] = {
            "case_id": question.case_id,
            "disease_id": question.disease_id,
            "kind": question.kind,
            "asked_about": question.asked_about,
            "answer": answer,
        }
        if question.kind == "diagnosis":
            grounding = grounder.ground(answer, within=tuned)
            named = grounding.disease_id
            row["grounded_to"] = named
            row["correct"] = named is not None and kb.disease_group(named) == kb.disease_group(
                question.disease_id
            )
        else:
            said = parse_yes_no(answer)
            row["said"] = said
            row["correct"] = said is (question.kind == "positive")
        rows.append(row)
    return rows


def evaluate_adapter(
    backend: AdapterModel,
    cases: Sequence[Case],
    kb: KnowledgeBase,
    names: Mapping[str, str],
    *,
    grounder: DiseaseGrounder,
    render: RenderOptions,
    exclude: Collection[str] = (),
    max_per_disease: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The before/after report (module docstring); ``names`` are the adapter's diseases."""
    chosen, skipped = select_cases(
        cases, kb, names, exclude=exclude, max_per_disease=max_per_disease, seed=seed
    )
    questions = questions_for(chosen, kb, names, render=render, seed=seed)
    started = time.perf_counter()
    rows: dict[str, list[dict[str, Any]]] = {}
    models: dict[str, str] = {}
    for label, enabled in (("before", False), ("after", True)):
        backend.use_adapter(enabled)
        models[label] = backend.model
        answers = ask(backend, questions, label=label, progress=progress)
        rows[label] = score(questions, answers, kb, grounder, names)
    backend.use_adapter(True)
    n = sum(len(m) for m in chosen.values())
    report: dict[str, Any] = {
        "n": n,
        "n_questions": len(questions),
        "skipped": skipped,
        "models": models,
        "before": summary(rows["before"]),
        "after": summary(rows["after"]),
        "per_disease": [
            {
                "disease_id": disease,
                "name": names[disease],
                "n": len(chosen[disease]),
                "before": summary(rows["before"], disease),
                "after": summary(rows["after"], disease),
            }
            for disease in names
        ],
        "seconds": round(time.perf_counter() - started, 1),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "software": f"ocais {__version__}",
    }
    before = _outcomes(rows["before"], "diagnosis")
    after = _outcomes(rows["after"], "diagnosis")
    interval = paired_bootstrap(before, after, seed=seed)
    report["difference"] = {
        "accuracy": interval.estimate,
        "ci": [interval.lower, interval.upper],
        "n_resamples": interval.n_resamples,
    }
    report["answers"] = [
        {
            "case_id": b["case_id"],
            "disease_id": b["disease_id"],
            "kind": b["kind"],
            "asked_about": b["asked_about"],
            "before": b["answer"],
            "after": a["answer"],
            "correct_before": b["correct"],
            "correct_after": a["correct"],
        }
        for b, a in zip(rows["before"], rows["after"], strict=True)
    ]
    return report


def summary(rows: Sequence[dict[str, Any]], disease: str | None = None) -> dict[str, Any]:
    """Accuracy of the diagnosis question, and sensitivity/specificity of the binary ones
    (negatives of one disease: the questions asking about it), each with a Wilson interval."""
    if disease is None:
        diagnosis = [r for r in rows if r["kind"] == "diagnosis"]
        positive = [r for r in rows if r["kind"] == "positive"]
        negative = [r for r in rows if r["kind"] == "negative"]
    else:
        diagnosis = [r for r in rows if r["kind"] == "diagnosis" and r["disease_id"] == disease]
        positive = [r for r in rows if r["kind"] == "positive" and r["disease_id"] == disease]
        negative = [r for r in rows if r["kind"] == "negative" and r["asked_about"] == disease]
    grounded = [r for r in diagnosis if r.get("grounded_to")]
    answered = [r for r in positive + negative if r.get("said") is not None]
    out: dict[str, Any] = {}
    for key, items in (
        ("accuracy", diagnosis),
        ("sensitivity", positive),
        ("specificity", negative),
    ):
        correct = sum(bool(r["correct"]) for r in items)
        value, low, high = proportion(correct, len(items))
        out[key] = value
        out[f"{key}_ci"] = None if value is None else [low, high]
        out[f"n_{key}"] = len(items)
    binary = positive + negative
    out["binary_accuracy"] = proportion(sum(bool(r["correct"]) for r in binary), len(binary))[0]
    out["grounded_rate"] = proportion(len(grounded), len(diagnosis))[0]
    out["answered_rate"] = proportion(len(answered), len(binary))[0]
    return out


def proportion(successes: int, n: int) -> tuple[float | None, float | None, float | None]:
    """successes / n and its Wilson 95% interval (all ``None`` when n is 0)."""
    if n == 0:
        return None, None, None
    from scipy.stats import binomtest

    interval = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return round(successes / n, 4), round(float(interval.low), 4), round(float(interval.high), 4)


def _outcomes(rows: Sequence[dict[str, Any]], kind: str) -> list[float]:
    return [float(bool(r["correct"])) for r in rows if r["kind"] == kind]


def _stable(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


# --- the page -------------------------------------------------------------------------------------
def write_evaluation_html(report: Mapping[str, Any], path: Path) -> Path:
    return write_page(render_evaluation_html(report), path)


def render_evaluation_html(report: Mapping[str, Any]) -> str:
    """One self-contained page: the overall figures, Table 1 per disease and a plot."""
    models = report["models"]
    title = f"{models['before']} → {models['after']}"
    skipped = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in report["skipped"].items() if v)
    difference = report["difference"]
    sections = [
        f"<h1>Fine-tuning: {escape(title)}</h1>",
        f'<p class="note">{report["n"]:,} real cases whose diagnosis is among the adapter\'s '
        f"{len(report['per_disease'])} diseases ({escape(skipped) or 'none left out'}); "
        f"{escape(report['software'])}, {escape(report['created_at'])}.</p>",
        "<h2>Overall</h2>",
        _overall_table(report),
        f"<p>Accuracy difference (after − before): {_pct(difference['accuracy'])} "
        f"(95% paired bootstrap interval {_pct(difference['ci'][0])} to "
        f"{_pct(difference['ci'][1])}).</p>",
        "<h2>Table 1: per disease</h2>",
        _disease_table(report),
        image(_dumbbell_png(report), "diagnosis accuracy per disease before and after"),
    ]
    return page(
        f"OCAIS fine-tuning — {title}",
        "\n".join(sections),
        "td.up { color: #1a7f37; } td.down { color: #b42318; }",
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _with_ci(figures: Mapping[str, Any], key: str) -> str:
    ci = figures.get(f"{key}_ci")
    text = _pct(figures.get(key))
    return text if not ci else f"{text} ({_pct(ci[0])}–{_pct(ci[1])})"


def _change(before: float | None, after: float | None) -> str:
    css = ""
    if before is not None and after is not None and before != after:
        css = ' class="up"' if after > before else ' class="down"'
    return f"<td{css}>{_pct(before)} → {_pct(after)}</td>"


def _overall_table(report: Mapping[str, Any]) -> str:
    rows = []
    for key, label in (
        ("accuracy", "Which disease (accuracy)"),
        ("sensitivity", "Is it X? — sensitivity"),
        ("specificity", "Is it X? — specificity"),
    ):
        rows.append(
            f"<tr><td>{label}</td><td>{report['before'][f'n_{key}']}</td>"
            f"<td>{_with_ci(report['before'], key)}</td><td>{_with_ci(report['after'], key)}</td>"
            "</tr>"
        )
    head = "<tr><th>Task</th><th>n</th><th>before (95% CI)</th><th>after (95% CI)</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _disease_table(report: Mapping[str, Any]) -> str:
    head = (
        "<tr><th>Disease</th><th>n</th><th>accuracy</th><th>sensitivity</th>"
        "<th>specificity</th></tr>"
    )
    rows = []
    for row in report["per_disease"]:
        b, a = row["before"], row["after"]
        rows.append(
            f"<tr><td>{escape(row['name'])} <small>{escape(row['disease_id'])}</small></td>"
            f"<td>{row['n']}</td>{_change(b['accuracy'], a['accuracy'])}"
            f"{_change(b['sensitivity'], a['sensitivity'])}"
            f"{_change(b['specificity'], a['specificity'])}</tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _dumbbell_png(report: Mapping[str, Any]) -> str:
    rows = [r for r in report["per_disease"] if r["n"]]
    figure, (axes,) = new_figure(7.5, 0.3 * max(len(rows), 4) + 1.2)
    for y, row in enumerate(rows):
        before = row["before"]["accuracy"] or 0.0
        after = row["after"]["accuracy"] or 0.0
        axes.plot([before, after], [y, y], color="#999", linewidth=1, zorder=1)
        axes.scatter([before], [y], color="#888", label="before" if y == 0 else None, zorder=2)
        axes.scatter([after], [y], color="#1f6feb", label="after" if y == 0 else None, zorder=3)
    axes.set_yticks(range(len(rows)), [f"{r['name'][:40]} (n={r['n']})" for r in rows])
    axes.invert_yaxis()
    axes.set_xlim(-0.02, 1.02)
    axes.set_xlabel("accuracy of 'which disease'")
    if rows:
        axes.legend(loc="lower right")
    return png_base64(figure)
