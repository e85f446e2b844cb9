"""Findings the dictionary missed, proposed by an LLM: each unmapped span of a note (a typo
beyond the spelling index, a word in another language, an abbreviation) is put to the model,
which answers with a standard English finding name; the name is read back by the concept
recognizer, so every proposal is an HPO term of the release — or nothing.

Proposals are suggestions for the clinician to accept (they are never added to the case), with
the recognizer's confidence as score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ocais.errors import LLMError, LLMOutputError
from ocais.knowledge import KnowledgeBase
from ocais.llm.base import LLMBackend, parse_json_answer
from ocais.llm.prompts import load_prompt

MAX_SPANS = 8
MAX_SPAN_CHARS = 120
#: the recognized finding must span this share of the model's answer ("a made-up word salad"
#: is not the finding "Word salad")
MIN_COVERAGE = 0.6


@dataclass(frozen=True)
class Proposal:
    span: str
    id: str
    label: str
    score: float
    said: str  # what the model answered


def propose_findings(
    knowledge: KnowledgeBase, llm: LLMBackend, spans: Sequence[str]
) -> tuple[list[Proposal], str | None]:
    """(proposals, failure code or ``None``) for up to :data:`MAX_SPANS` spans, in one call."""
    from ocais.ingest.text import extract_text

    chosen = [s.strip()[:MAX_SPAN_CHARS] for s in spans if s.strip()][:MAX_SPANS]
    if not chosen:
        return [], None
    prompt = load_prompt("findings")
    phrases = "\n".join(f"{i}. {span}" for i, span in enumerate(chosen, start=1))
    schema = {
        "type": "object",
        "properties": {
            "findings": {
                "type": "array",
                "maxItems": len(chosen),
                "items": {
                    "type": "object",
                    "properties": {
                        "n": {"type": "integer", "minimum": 1, "maximum": len(chosen)},
                        "name": {"type": ["string", "null"], "maxLength": 80},
                    },
                    "required": ["n", "name"],
                },
            }
        },
        "required": ["findings"],
    }
    try:
        completion = llm.complete(
            prompt.messages(phrases=phrases), max_tokens=48 * len(chosen), json_schema=schema
        )
        answer = parse_json_answer(completion.text)
    except LLMError as exc:
        return [], exc.code
    items = answer.get("findings")
    if not isinstance(items, list):
        return [], LLMOutputError.code
    proposals: list[Proposal] = []
    seen: set[tuple[int, str]] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        number, name = item.get("n"), item.get("name")
        if not isinstance(number, int) or not 1 <= number <= len(chosen):
            continue
        if not isinstance(name, str) or not name.strip():
            continue
        name = name.strip()
        found = extract_text(name, knowledge, language="en").mentions
        for mention in found[:1]:  # the name's own finding, not a word inside a longer answer
            if mention.excluded or (number, mention.id) in seen:
                continue
            if (mention.end - mention.start) < MIN_COVERAGE * len(name):
                continue
            seen.add((number, mention.id))
            proposals.append(
                Proposal(chosen[number - 1], mention.id, mention.label, mention.confidence, name)
            )
    return proposals, None
