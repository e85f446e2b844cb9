"""Predictors that ask an LLM: ``llm`` (the model's own differential, grounded to disease ids)
and ``rag`` (the phenotype ranker's candidates and evidence, re-ranked and explained by the
model).

``rag`` is built so that it cannot rank worse than the ranker alone by more than its weight
allows: the model sees the ranker's top candidates (numbered, with matched and missing findings,
and similar earlier cases when the caller may see them) and returns an order of those numbers,
other diagnoses it considers, and an explanation. The final score of candidate *i* is the
ranker's score plus ``weight × (N − position + 1) / N`` for the candidates the model ranked, so
with ``weight = 0`` (the default until the model's worth was measured on development cases,
``ocais llm calibrate``) the order is the ranker's and the model only explains. Diseases the
model names outside the candidates are grounded and reported in the provenance, never added.
Any failure (server down, timeout, invalid JSON, nothing groundable) leaves the ranker's answer,
with a warning that says what failed.

The model is shown findings (HPO labels), never the note itself (:mod:`ocais.llm.context`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ocais.errors import LLMError, LLMOutputError
from ocais.knowledge import KnowledgeBase
from ocais.llm.base import ChatMessage, LLMBackend, MeteredBackend, parse_json_answer
from ocais.llm.context import candidate_lines, case_values
from ocais.llm.grounding import Grounding, grounder_for
from ocais.llm.prompts import load_prompt
from ocais.predict.matrices import DEFAULT_NAMESPACES
from ocais.predict.phenotype import PhenotypeRanker
from ocais.schemas import Candidate, Case, GroupMember, Prediction, Provenance


@dataclass(frozen=True)
class SimilarCase:
    """A stored case the caller may see, as the LLM is shown it."""

    diagnosis: str
    shared_findings: Sequence[str]


@dataclass
class GroundingStats:
    """How many disease answers the model gave, and how many could be grounded."""

    answers: int = 0
    grounded: int = 0
    unmapped: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, answers: int, grounded: int, unmapped: Sequence[str]) -> None:
        with self._lock:
            self.answers += answers
            self.grounded += grounded
            self.unmapped.extend(unmapped[: max(0, 50 - len(self.unmapped))])

    def summary(self) -> dict[str, Any]:
        with self._lock:
            rate = round(self.grounded / self.answers, 4) if self.answers else None
            return {
                "answers": self.answers,
                "grounded": self.grounded,
                "grounded_rate": rate,
                "unmapped_examples": list(self.unmapped[:10]),
            }


@dataclass(frozen=True)
class Consultation:
    """The ranker's answer and the LLM's view of it, before weighting."""

    base: Prediction
    order: list[int]  # candidate indexes, best first, as the LLM ranked them
    explanation: str | None
    info: dict[str, Any]  # model, prompt, order, other diseases, failure
    warnings: list[str]


class _LLMPredictorBase:
    name: ClassVar[str]

    def __init__(self, knowledge: KnowledgeBase, llm: LLMBackend, max_tokens: int) -> None:
        self.kb = knowledge
        # counted per predictor (two predictors may share one backend)
        self.llm = MeteredBackend(llm.inner if isinstance(llm, MeteredBackend) else llm)
        self.max_tokens = max_tokens
        self.grounding = GroundingStats()

    def llm_stats(self) -> dict[str, Any]:
        """For the benchmark's ``predictors.<name>.llm``: calls, failures, grounding, latency,
        tokens and the model's name."""
        stats = self.llm.stats.summary()
        grounding = self.grounding.summary()
        return {**stats, **grounding, "model": stats["model"] or self._model_name()}

    def _ask_json(self, messages: Sequence[ChatMessage], schema: dict[str, Any]) -> dict[str, Any]:
        """The model's JSON answer (deterministic: temperature 0, seed 0); an answer that is
        not a JSON object is counted as a failure and as one ungrounded answer, and raised."""
        completion = self.llm.complete(
            messages, max_tokens=self.max_tokens, temperature=0.0, json_schema=schema, seed=0
        )
        try:
            return parse_json_answer(completion.text)
        except LLMOutputError as exc:
            self.llm.stats.failed_output(exc)
            self.grounding.add(1, 0, [completion.text[:80]])
            raise

    def _unusable(self, message: str) -> LLMOutputError:
        """A well-formed answer with nothing usable in it: counted as a failure."""
        error = LLMOutputError(message)
        self.llm.stats.failed_output(error)
        return error

    def _model_name(self) -> str:
        try:
            return self.llm.model
        except LLMError:
            return ""

    def _provenance(self, source: str, parameters: dict[str, Any]) -> Provenance:
        import datetime as dt

        from ocais import __version__

        return Provenance(
            source=source,
            source_format="prediction",
            created_at=dt.datetime.now(dt.UTC),
            created_by=f"ocais {__version__}",
            knowledge_version=self.kb.version,
            parameters=parameters,
        )


class RagPredictor(_LLMPredictorBase):
    """The phenotype ranker's differential, re-ranked and explained by an LLM (see module)."""

    name: ClassVar[str] = "rag"
    PROMPT = ("rerank", "v1")

    def __init__(
        self,
        knowledge: KnowledgeBase,
        *,
        llm: LLMBackend,
        namespaces: Sequence[str] = DEFAULT_NAMESPACES,
        candidates: int = 10,
        weight: float | None = None,
        llm_weights: Callable[[str], float] | None = None,
        max_tokens: int = 256,
        **ranker_options: Any,
    ) -> None:
        super().__init__(knowledge, llm, max_tokens)
        self.ranker = PhenotypeRanker(knowledge, namespaces=namespaces, **ranker_options)
        self.n_candidates = max(2, candidates)
        self._weight = weight
        self._weights = llm_weights
        self.prompt = load_prompt(*self.PROMPT)
        self.options = {
            "namespaces": list(namespaces),
            "candidates": self.n_candidates,
            "weight": weight,
            **ranker_options,
        }

    @property
    def weight(self) -> float:
        """The weight given, else the one measured for this model, else 0 (explain only)."""
        if self._weight is not None:
            return float(self._weight)
        return float(self._weights(self._model_name())) if self._weights is not None else 0.0

    def predict(
        self, case: Case, top_k: int = 10, *, similar: Sequence[SimilarCase] = ()
    ) -> Prediction:
        return self.combine(self.consult(case, top_k, similar), self.weight, top_k)

    def consult(
        self, case: Case, top_k: int = 10, similar: Sequence[SimilarCase] = ()
    ) -> Consultation:
        """The ranker's differential and what the LLM made of it (before weighting)."""
        base = self.ranker.predict(case, max(top_k, self.n_candidates))
        info: dict[str, Any] = {"model": self._model_name(), "prompt": self.prompt.id}
        if not base.candidates:
            return Consultation(base, [], None, info, [])
        shown = base.candidates[: self.n_candidates]
        try:
            order, other, explanation = self._ask(case, base, similar)
        except LLMError as exc:
            info["failed"] = exc.code
            warning = (
                f"the LLM did not help with this case ({exc.message}); the ranker's order is kept"
            )
            return Consultation(base, [], None, info, [warning])
        info["order"] = [shown[i].disease_id for i in order]
        info["other"] = [
            {"text": g.text, "id": g.disease_id, "mondo_id": g.group_id} for g in other
        ]
        return Consultation(base, order, explanation, info, [])

    def combine(self, consulted: Consultation, weight: float, top_k: int) -> Prediction:
        """The final differential: ranker score + weight × the LLM's position bonus."""
        base = consulted.base
        shown = base.candidates[: self.n_candidates]
        n = max(1, len(shown))
        bonus = {index: (n - position) / n for position, index in enumerate(consulted.order)}
        rescored = [(c.score + weight * bonus.get(i, 0.0), -i, c) for i, c in enumerate(shown)]
        rescored += [
            (c.score, -(len(shown) + j), c) for j, c in enumerate(base.candidates[len(shown) :])
        ]
        rescored.sort(key=lambda item: (item[0], item[1]), reverse=True)
        candidates = [
            c.model_copy(update={"rank": rank, "score": score})
            for rank, (score, _order, c) in enumerate(rescored[:top_k], start=1)
        ]
        return Prediction(
            case_id=base.case_id,
            predictor=self.name,
            candidates=candidates,
            next_phenotypes=base.next_phenotypes,
            warnings=[*base.warnings, *consulted.warnings],
            explanation=consulted.explanation,
            provenance=self._with_llm(base, {**consulted.info, "weight": weight}),
        )

    def _with_llm(self, base: Prediction, llm_info: dict[str, Any]) -> Provenance:
        provenance = base.provenance.model_copy(deep=True)
        provenance.source = "ocais.predict.generative"
        provenance.parameters = {**provenance.parameters, "llm": llm_info, **self.options}
        return provenance

    def _ask(
        self, case: Case, base: Prediction, similar: Sequence[SimilarCase]
    ) -> tuple[list[int], list[Grounding], str | None]:
        """(order of candidate indexes, other grounded diseases, explanation)."""
        n = min(self.n_candidates, len(base.candidates))
        similar_text = (
            "\n".join(f"- {s.diagnosis}: {', '.join(s.shared_findings)}" for s in similar)
            or "none available"
        )
        messages = self.prompt.messages(
            **case_values(self.kb, case),
            candidates=candidate_lines(base, n),
            similar=similar_text,
            n_candidates=n,
        )
        schema = {
            "type": "object",
            "properties": {
                "ranking": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1, "maximum": n},
                    "maxItems": n,
                },
                # no maxLength: llama.cpp grammars expand it into nested repetitions that cost
                # ~2x per generated token; max_tokens bounds the answer instead
                "other": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                "explanation": {"type": "string"},
            },
            "required": ["ranking", "explanation"],
        }
        answer = self._ask_json(messages, schema)
        order, given, unmapped = _order(answer.get("ranking"), n)
        names = [str(x) for x in answer.get("other") or [] if isinstance(x, str | int)][:3]
        groundings = grounder_for(self.kb).ground_many(names) if names else []
        grounded_other = [g for g in groundings if g.grounded]
        unmapped += [g.text for g in groundings if not g.grounded]
        self.grounding.add(given + len(names), len(order) + len(grounded_other), unmapped)
        if not order and not grounded_other:
            raise self._unusable("the LLM's answer named no candidate")
        explanation = answer.get("explanation")
        text = explanation.strip() if isinstance(explanation, str) and explanation.strip() else None
        return order, grounded_other, text


def _order(ranking: Any, n: int) -> tuple[list[int], int, list[str]]:
    """Candidate indexes (0-based, unique, in range) of a ranking; items given; unmapped."""
    if not isinstance(ranking, list):
        return [], 0, []
    order: list[int] = []
    unmapped: list[str] = []
    for item in ranking:
        try:
            number = int(item)
        except (TypeError, ValueError):
            unmapped.append(str(item)[:80])
            continue
        if 1 <= number <= n and number - 1 not in order:
            order.append(number - 1)
        elif not 1 <= number <= n:
            unmapped.append(str(number))
    return order, len(ranking), unmapped


class LLMDifferentialPredictor(_LLMPredictorBase):
    """The LLM's own differential from the findings, each name grounded to a disease; diseases
    the knowledge base does not annotate (common diseases) are reported, not ranked."""

    name: ClassVar[str] = "llm"
    PROMPT = ("differential", "v1")

    def __init__(
        self,
        knowledge: KnowledgeBase,
        *,
        llm: LLMBackend,
        namespaces: Sequence[str] = DEFAULT_NAMESPACES,
        diagnoses: int = 10,
        max_tokens: int = 256,
    ) -> None:
        super().__init__(knowledge, llm, max_tokens)
        self.namespaces = tuple(namespaces)
        self.n_diagnoses = diagnoses
        self.prompt = load_prompt(*self.PROMPT)
        self.options = {"namespaces": list(namespaces), "diagnoses": diagnoses}

    def predict(self, case: Case, top_k: int = 10) -> Prediction:
        warnings = [
            f"{p.id} is not in HPO {self.kb.version} and was ignored"
            for p in case.phenotypes
            if self.kb.resolve_id(p.id) is None
        ]
        observed = [t for t in case.observed if self.kb.resolve_id(t) is not None]
        info: dict[str, Any] = {"model": self._model_name(), "prompt": self.prompt.id}
        candidates: list[Candidate] = []
        if observed:
            try:
                candidates, outside = self._ask(case, top_k)
                info["outside_annotations"] = outside
            except LLMError as exc:
                info["failed"] = exc.code
                warnings.append(f"the LLM gave no differential ({exc.message})")
        return Prediction(
            case_id=case.id,
            predictor=self.name,
            candidates=candidates,
            warnings=warnings,
            provenance=self._provenance("ocais.predict.generative", {**self.options, "llm": info}),
        )

    def _ask(self, case: Case, top_k: int) -> tuple[list[Candidate], list[dict[str, Any]]]:
        messages = self.prompt.messages(**case_values(self.kb, case), n_diagnoses=self.n_diagnoses)
        schema = {
            "type": "object",
            "properties": {
                "diagnoses": {
                    "type": "array",
                    "items": {"type": "string"},
                    "maxItems": self.n_diagnoses,
                }
            },
            "required": ["diagnoses"],
        }
        answer = self._ask_json(messages, schema)
        names = [str(x) for x in answer.get("diagnoses") or [] if isinstance(x, str)]
        groundings = grounder_for(self.kb).ground_many(names[: self.n_diagnoses])
        unmapped = [g.text for g in groundings if not g.grounded]
        self.grounding.add(len(names), len(names) - len(unmapped), unmapped)
        candidates: list[Candidate] = []
        outside: list[dict[str, Any]] = []
        seen: set[str] = set()
        for grounding in groundings:
            if not grounding.grounded or grounding.disease_id is None:
                continue
            group = grounding.group_id or grounding.disease_id
            if group in seen:
                continue
            seen.add(group)
            if not self._ranks(grounding.disease_id):
                outside.append({"text": grounding.text, "id": grounding.disease_id})
                continue
            candidates.append(self._candidate(grounding.disease_id, len(candidates)))
            if len(candidates) == top_k:
                break
        if names and not candidates and not outside:
            raise self._unusable("none of the LLM's diagnoses could be grounded")
        return candidates, outside

    def _ranks(self, disease_id: str) -> bool:
        return self.kb.has_disease(disease_id) and disease_id.split(":")[0] in self.namespaces

    def _candidate(self, disease_id: str, position: int) -> Candidate:
        from ocais.knowledge.mondo import disease_url

        group = self.kb.disease_group(disease_id)
        members = [disease_id] + [m for m in self.kb.group_members(disease_id) if m != disease_id]
        return Candidate(
            disease_id=disease_id,
            name=self.kb.group_name(group)
            if group != disease_id
            else self.kb.disease_name(disease_id),
            rank=position + 1,
            score=float(self.n_diagnoses - position),
            probability=None,
            mondo_id=group if group.startswith("MONDO:") else None,
            mondo_url=disease_url(group) if group.startswith("MONDO:") else None,
            members=[
                GroupMember(id=m, name=self.kb.disease_name(m), score=None, url=disease_url(m))
                for m in members
                if m.split(":")[0] in self.namespaces
            ],
        )
