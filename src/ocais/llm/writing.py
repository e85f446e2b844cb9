"""Texts for clinicians from a case and its differential: explanations and referral letters.

Each is written by the LLM when one is configured and answers, and from a template otherwise
(or when the LLM fails), so the service works fully without one; the result says which
(``source``: ``"llm"`` / ``"template"``), names the model and prompt, and why the LLM was not
used (``failed``). The LLM is shown findings, the computed evidence and, for letters, the
already de-identified notes (:mod:`ocais.llm.context`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ocais.errors import LLMError
from ocais.knowledge import KnowledgeBase
from ocais.llm.base import LLMBackend
from ocais.llm.context import candidate_lines, case_values, evidence_labels, findings
from ocais.llm.prompts import load_prompt
from ocais.schemas import Case, Prediction

Source = Literal["llm", "template"]
EXPLAIN_CANDIDATES = 5
LETTER_CANDIDATES = 5


@dataclass(frozen=True)
class Written:
    """A text with where it came from."""

    text: str
    source: Source
    model: str | None = None
    prompt: str | None = None
    failed: str | None = None  # why the LLM's text was not used
    details: dict[str, Any] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "model": self.model,
            "prompt": self.prompt,
            "failed": self.failed,
        }


# --- explanations ------------------------------------------------------------------------------
def explanation_template(prediction: Prediction, n: int = EXPLAIN_CANDIDATES) -> str:
    """A plain explanation from the evidence: per candidate, what matches and what is missing."""
    if not prediction.candidates:
        return "No disease matches the findings given."
    lines = []
    for candidate in prediction.candidates[:n]:
        evidence = candidate.evidence
        matched = evidence_labels(evidence.get("matched"), "patient_label")
        missing = evidence_labels(evidence.get("missing"), "label")
        probability = (
            f" ({100 * candidate.probability:.1f}%)" if candidate.probability is not None else ""
        )
        text = f"{candidate.rank}. {candidate.name}{probability}: "
        text += f"matches {', '.join(matched[:6])}" if matched else "no finding matches directly"
        if missing:
            text += f"; typical findings not reported: {', '.join(missing[:4])}"
        lines.append(text + ".")
    if prediction.next_phenotypes:
        checks = ", ".join(p.label for p in prediction.next_phenotypes[:3])
        lines.append(f"Findings that would best tell them apart: {checks}.")
    return "\n".join(lines)


def explain(
    knowledge: KnowledgeBase,
    llm: LLMBackend | None,
    case: Case,
    prediction: Prediction,
    *,
    max_tokens: int = 256,
) -> Written:
    """An explanation of ``prediction`` for ``case``: the LLM's, else the template's."""
    if not prediction.candidates:
        return Written(explanation_template(prediction), "template")
    prompt = load_prompt("explain")
    if llm is None:
        return Written(explanation_template(prediction), "template", failed="llm_unavailable")
    messages = prompt.messages(
        **case_values(knowledge, case),
        candidates=candidate_lines(prediction, EXPLAIN_CANDIDATES),
    )
    try:
        completion = llm.complete(messages, max_tokens=max_tokens, temperature=0.0, seed=0)
    except LLMError as exc:
        return Written(explanation_template(prediction), "template", failed=exc.code)
    text = completion.text.strip()
    if not text:
        return Written(
            explanation_template(prediction), "template", completion.model, prompt.id, "empty"
        )
    return Written(text, "llm", completion.model, prompt.id)


def stream_explanation(
    knowledge: KnowledgeBase,
    llm: LLMBackend | None,
    case: Case,
    prediction: Prediction,
    *,
    max_tokens: int = 256,
) -> Iterator[str]:
    """The explanation piece by piece (the chat page shows it as it is written); the template
    when there is no LLM or it fails before writing anything."""
    if llm is None or not prediction.candidates:
        yield explanation_template(prediction)
        return
    messages = load_prompt("explain").messages(
        **case_values(knowledge, case),
        candidates=candidate_lines(prediction, EXPLAIN_CANDIDATES),
    )
    written = False
    try:
        for piece in llm.stream(messages, max_tokens=max_tokens, temperature=0.0, seed=0):
            written = written or bool(piece.strip())
            yield piece
    except LLMError:
        if written:
            yield "\n\n(The explanation was cut short: the LLM stopped answering.)"
            return
    if not written:
        yield explanation_template(prediction)


# --- letters --------------------------------------------------------------------------------------
def letter_template(
    knowledge: KnowledgeBase, case: Case, prediction: Prediction, family: Sequence[str]
) -> str:
    values = case_values(knowledge, case)
    lines = [
        "# Referral to clinical genetics",
        "",
        "Dear colleague,",
        "",
        f"I would be grateful for your assessment of this patient ({values['demographics']}).",
        "",
        "## Clinical findings",
        "",
        f"- Present: {values['observed']}",
        f"- Absent: {values['excluded']}",
    ]
    if family:
        lines.append(f"- Family history: {findings(knowledge, family)}")
    lines += ["", "## Differential diagnosis (computed from the findings)", ""]
    if prediction.candidates:
        for candidate in prediction.candidates[:LETTER_CANDIDATES]:
            probability = (
                f" — {100 * candidate.probability:.1f}%"
                if candidate.probability is not None
                else ""
            )
            link = candidate.mondo_url or (candidate.members[0].url if candidate.members else None)
            name = f"[{candidate.name}]({link})" if link else candidate.name
            matched = evidence_labels(candidate.evidence.get("matched"), "patient_label")
            support = f": {', '.join(matched[:5])}" if matched else ""
            lines.append(f"{candidate.rank}. {name} ({candidate.disease_id}){probability}{support}")
    else:
        lines.append("No disease in the knowledge base matches the findings given.")
    if prediction.next_phenotypes:
        checks = ", ".join(p.label for p in prediction.next_phenotypes[:3])
        lines += ["", f"Findings worth checking next: {checks}."]
    lines += [
        "",
        "## Question",
        "",
        "Could you assess the patient for the conditions above and advise on genetic testing?",
        "",
        "Kind regards,",
        "",
        "_Differential computed by OCAIS from the findings above; it supports, and does not "
        "replace, clinical judgement._",
    ]
    return "\n".join(lines) + "\n"


def write_letter(
    knowledge: KnowledgeBase,
    llm: LLMBackend | None,
    case: Case,
    prediction: Prediction,
    *,
    notes: str = "",
    family: Sequence[str] = (),
    max_tokens: int = 512,
) -> Written:
    """A referral letter in Markdown: the LLM's, else the template's. ``notes`` must already
    be de-identified."""
    template = letter_template(knowledge, case, prediction, family)
    if llm is None:
        return Written(template, "template", failed="llm_unavailable")
    prompt = load_prompt("letter")
    messages = prompt.messages(
        **case_values(knowledge, case),
        family=findings(knowledge, family),
        candidates=candidate_lines(prediction, LETTER_CANDIDATES, evidence=False),
        notes=notes.strip() or "none",
    )
    try:
        completion = llm.complete(messages, max_tokens=max_tokens, temperature=0.0, seed=0)
    except LLMError as exc:
        return Written(template, "template", failed=exc.code)
    text = completion.text.strip()
    if len(text) < 40:
        return Written(template, "template", completion.model, prompt.id, "too_short")
    return Written(text + "\n", "llm", completion.model, prompt.id)
