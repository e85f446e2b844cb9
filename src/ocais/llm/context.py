"""What an LLM is shown of a case and its differential: plain text built from the structured
case (HPO labels, sex, age) and the ranker's evidence — never identifiers, never the raw note.

Sending findings rather than text keeps protected health information on the site and keeps an
instruction written in a note ("ignore all previous instructions…") out of the prompt: only
what the concept recognizer read as a phenotype reaches the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ocais.knowledge import KnowledgeBase
from ocais.schemas import Case, Prediction

MAX_FINDINGS = 25


def label_of(knowledge: KnowledgeBase, term_id: str) -> str:
    resolved = knowledge.resolve_id(term_id)
    return knowledge.name(resolved) if resolved else term_id


def findings(knowledge: KnowledgeBase, terms: Sequence[str]) -> str:
    labels = sorted({label_of(knowledge, t) for t in terms})
    if not labels:
        return "none recorded"
    shown = labels[:MAX_FINDINGS]
    more = len(labels) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more else "")


def demographics(case: Case) -> str:
    sex = case.subject.sex.value.lower()
    age = case.subject.age_years
    parts = [sex if sex != "unknown" else "sex not given"]
    parts.append(f"{age:g} years old" if age is not None else "age not given")
    return ", ".join(parts)


def case_values(knowledge: KnowledgeBase, case: Case) -> dict[str, str]:
    """``demographics``, ``observed`` and ``excluded`` for a prompt."""
    return {
        "demographics": demographics(case),
        "observed": findings(knowledge, list(case.observed)),
        "excluded": findings(knowledge, list(case.excluded)),
    }


def candidate_lines(prediction: Prediction, n: int, *, evidence: bool = True) -> str:
    """One numbered line per candidate: name, id, probability, matched and missing findings."""
    lines = []
    for number, candidate in enumerate(prediction.candidates[:n], start=1):
        probability = (
            f" {100 * candidate.probability:.1f}%" if candidate.probability is not None else ""
        )
        line = f"{number}. {candidate.name} [{candidate.disease_id}]{probability}"
        if evidence:
            matched = ", ".join(
                evidence_labels(candidate.evidence.get("matched"), "patient_label", 3)
            )
            missing = ", ".join(evidence_labels(candidate.evidence.get("missing"), "label", 2))
            line += f"; matched: {matched or 'none'}; typical but absent: {missing or 'none'}"
        lines.append(line)
    return "\n".join(lines) if lines else "none"


def evidence_labels(items: Any, key: str, limit: int | None = None) -> list[str]:
    """The ``key`` labels of a candidate's evidence list (``matched``, ``missing``), the first
    ``limit`` items only when given, each label once, in order."""
    if not isinstance(items, list):
        return []
    labels = [str(item.get(key)) for item in items if isinstance(item, dict) and item.get(key)]
    return list(dict.fromkeys(labels if limit is None else labels[:limit]))
