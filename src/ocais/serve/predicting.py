"""Predictions served by the API: free text → phenotypes → differential, stored for feedback.

What is stored for every prediction: who, when, the HPO ids (observed / excluded), sex, age,
``top_k``, the candidates' ids, ranks, scores and probabilities, the predictor and the knowledge
version. Never the text. Identical inputs are answered from a small per-worker LRU cache: the
predictor is deterministic (its contract), so the answer is the same, just faster.

:meth:`PredictionService.predict` returns the row to store with the answer: the route has it
committed together with the request's audit entry (one transaction) before it answers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter

from ocais.errors import ConfigError, InputTooLargeError, InvalidRecordError
from ocais.knowledge import KnowledgeBase
from ocais.schemas import Case, Genomics, PhenotypeObservation, Prediction, Sex
from ocais.serve.schemas.predict import (
    MentionOut,
    PredictInputOut,
    PredictRequest,
    SuggestionOut,
    UnmappedOut,
)
from ocais.serve.security import random_uuid
from ocais.store.service_models import PredictionRecord
from ocais.workflows import Services as CoreServices
from ocais.workflows.genai import explanation_stream, llm_term_suggestions, predict_with
from ocais.workflows.predicting import query_case, resolve_terms
from ocais.workflows.types import Predictor, Written

#: Free text → (mentions, observations[, unmapped spans]). Built from ``ocais.ingest.text`` by
#: default; an extractor without the third item reports no unmapped spans.
TextExtractor = Callable[
    [str],
    tuple[list[MentionOut], list[PhenotypeObservation]]
    | tuple[list[MentionOut], list[PhenotypeObservation], list[UnmappedOut]],
]
Extracted = tuple[list[MentionOut], list[PhenotypeObservation], list[UnmappedOut]]

_MENTIONS: TypeAdapter[list[MentionOut] | None] = TypeAdapter(list[MentionOut] | None)
_UNMAPPED: TypeAdapter[list[UnmappedOut] | None] = TypeAdapter(list[UnmappedOut] | None)
_TEXT: TypeAdapter[str | None] = TypeAdapter(str | None)
_OBJECT: TypeAdapter[dict[str, Any] | None] = TypeAdapter(dict[str, Any] | None)

CacheKey = tuple[tuple[str, ...], tuple[str, ...], str, float | None, int]


def default_text_extractor(knowledge: KnowledgeBase) -> TextExtractor | None:
    """The concept recognizer of ``ocais.ingest.text`` (built once), or ``None`` without it."""
    try:
        from ocais.ingest.text import ConceptRecognizer, extract_text, to_observations
    except ImportError:
        return None
    recognizer = ConceptRecognizer(knowledge)
    recognizer.spelling()  # built now rather than on the first request

    def extract(text: str) -> Extracted:
        found = extract_text(text, recognizer, max_chars=len(text) + 1)
        mentions = [
            MentionOut(
                id=m.id,
                label=m.label,
                text=m.text,
                start=m.start,
                end=m.end,
                excluded=bool(m.excluded),
                family=bool(m.family),
                uncertain=bool(m.uncertain),
                confidence=m.confidence,
            )
            for m in found.mentions
        ]
        unmapped = [
            UnmappedOut(
                text=u.text,
                start=u.start,
                end=u.end,
                suggestions=[
                    SuggestionOut(id=s.id, label=s.label, score=s.score) for s in u.suggestions
                ],
            )
            for u in found.unmapped
        ]
        return mentions, list(to_observations(found.mentions)), unmapped

    return extract


@dataclass(frozen=True)
class Answer:
    """What the predictor's answer contributes to a response and to the stored row.

    This (not the :class:`Prediction` with its evidence: many small objects that the garbage
    collector would scan again and again) is what the cache keeps.
    """

    predictor: str
    candidates: tuple[tuple[str, int, float, float | None], ...]  # id, rank, score, probability
    json: bytes  # the Prediction, encoded

    @classmethod
    def of(cls, prediction: Prediction) -> Answer:
        return cls(
            predictor=prediction.predictor,
            candidates=tuple(
                (c.disease_id, c.rank, c.score, c.probability) for c in prediction.candidates
            ),
            json=prediction.__pydantic_serializer__.to_json(prediction),
        )


@dataclass(frozen=True)
class _Query:
    """A request read: mentions and unmapped spans of its text, resolved terms, sex, age."""

    mentions: list[MentionOut] | None
    unmapped: list[UnmappedOut] | None
    observed: tuple[str, ...]
    excluded: tuple[str, ...]
    sex: Sex
    age: float | None
    genomics: Genomics | None = None

    def case(self) -> Case:
        return query_case(self.observed, self.excluded, self.sex, self.age, self.genomics)


@dataclass(frozen=True)
class ServedPrediction:
    """A prediction with its id, the mentions found in the text, its JSON and the row to store."""

    prediction_id: str
    mentions: list[MentionOut] | None
    input: PredictInputOut
    prediction_json: bytes
    record: PredictionRecord
    unmapped: list[UnmappedOut] | None = None
    explanation: Written | None = None

    def response_json(self) -> bytes:
        """The body of the API answer (``PredictResponse``), assembled from encoded parts."""
        return b"".join(
            (
                b'{"prediction_id":"',
                self.prediction_id.encode(),  # a UUID: nothing to escape
                b'","mentions":',
                _MENTIONS.dump_json(self.mentions),
                b',"unmapped":',
                _UNMAPPED.dump_json(self.unmapped),
                b',"input":',
                self.input.__pydantic_serializer__.to_json(self.input),
                b',"prediction":',
                self.prediction_json,
                b',"explanation":',
                _TEXT.dump_json(self.explanation.text if self.explanation else None),
                b',"explanation_provenance":',
                _OBJECT.dump_json(self.explanation.provenance() if self.explanation else None),
                b"}",
            )
        )


GENOMIC_PREDICTOR = "genomic"


def _genomics(request: PredictRequest) -> Genomics | None:
    """The request's candidate genes and variants (``None`` when it gives neither)."""
    case = request.case
    if case is None or not (case.genes or case.variants):
        return None
    return Genomics(
        genes=list(case.genes),
        variants=list(case.variants),
    )


class PredictionService:
    """Runs the predictor for API requests; returns every prediction with the row to store."""

    def __init__(
        self,
        predictor: Predictor,
        knowledge: KnowledgeBase,
        *,
        extractor: TextExtractor | None,
        max_text_chars: int,
        max_top_k: int,
        cache_size: int = 2048,
        core: CoreServices | None = None,
    ) -> None:
        self.predictor = predictor
        self.core = core  # builds the other predictors a request may name, and explanations
        self._others: dict[str, Predictor] = {predictor.name: predictor}
        self.kb = knowledge
        self.extractor = extractor
        self.max_text_chars = max_text_chars
        self.max_top_k = max_top_k
        self.cache_size = cache_size
        self._cache: OrderedDict[CacheKey, Answer] = OrderedDict()
        self._cache_lock = threading.Lock()
        # predictors keep per-term caches that are not safe to mutate from several threads
        self._predict_lock = threading.Lock()

    def predict(
        self, request: PredictRequest, *, user_id: str | None, actor: Any = None
    ) -> ServedPrediction:
        """Predict; the answer, its new id and the row to store (``record``). ``actor`` is the
        caller (the similar cases ``rag`` is shown are those it may see)."""
        query = self._read(request)
        unmapped = query.unmapped
        uses_llm = request.explain or request.predictor in ("rag", "llm")
        if unmapped and uses_llm and self.core is not None:
            unmapped = self._llm_suggestions(unmapped)
        observed, excluded, sex, age = query.observed, query.excluded, query.sex, query.age
        explanation = None
        if query.genomics is not None and request.predictor is None:
            request = request.model_copy(update={"predictor": GENOMIC_PREDICTOR})
        if (
            (request.predictor or self.predictor.name) == self.predictor.name
            and not request.explain
            and query.genomics is None
        ):
            answer = self._predict(observed, excluded, sex, age, request.top_k)
        else:  # another predictor, or an explanation: not cached (an LLM may fail)
            answer, explanation = self._generate(request, query, actor)
        record = PredictionRecord(
            id=str(random_uuid()),
            user_id=user_id,
            created_at=datetime.now(UTC),
            input_kind="text" if request.case is None else "case" if not request.text else "both",
            observed=list(observed),
            excluded=list(excluded),
            sex=sex.value,
            age_years=age,
            top_k=request.top_k,
            predictor=answer.predictor,
            knowledge_version=self.kb.version,
            candidates=[
                {"disease_id": disease_id, "rank": rank, "score": score, "probability": p}
                for disease_id, rank, score, p in answer.candidates
            ],
        )
        return ServedPrediction(
            prediction_id=record.id,
            mentions=query.mentions,
            input=PredictInputOut(
                observed=list(observed), excluded=list(excluded), sex=sex, age_years=age
            ),
            prediction_json=answer.json,
            record=record,
            unmapped=unmapped,
            explanation=explanation,
        )

    def explanation(
        self, request: PredictRequest, *, actor: Any = None
    ) -> tuple[str | None, Iterator[str]]:
        """(model or ``None`` for the template, the explanation's pieces) for a request."""
        if self.core is None:
            raise InvalidRecordError("this service cannot explain", source="request")
        query = self._read(request)
        predictor = self._named(request.predictor or self.predictor.name)
        case = query.case()
        with self._predict_lock:
            prediction, _ = predict_with(self.core, predictor, case, request.top_k, actor=actor)
        return explanation_stream(self.core, prediction, case)

    def _read(self, request: PredictRequest) -> _Query:
        """What a request asks about: the phenotypes of its case and of its text (read by the
        extractor), resolved against the release, with sex and age."""
        if request.top_k > self.max_top_k:
            raise InvalidRecordError(
                f"top_k is {request.top_k}, the largest allowed is {self.max_top_k}",
                source="request",
                field="top_k",
            )
        # (id, excluded) pairs: the ids were validated with the request (or by the extractor)
        given = request.case.phenotypes if request.case else []
        observations = [(p.id, p.excluded) for p in given]
        mentions = unmapped = None
        if request.text is not None:
            mentions, found, unmapped = self._extract(request.text)
            observations.extend((o.id, o.excluded) for o in found)
        observed, excluded = self._resolve(observations, from_text=request.text is not None)
        return _Query(
            mentions,
            unmapped,
            observed,
            excluded,
            request.case.sex if request.case else Sex.UNKNOWN,
            request.case.age_years if request.case else None,
            _genomics(request),
        )

    def _llm_suggestions(self, unmapped: list[UnmappedOut]) -> list[UnmappedOut]:
        """The spans with the LLM's proposals added to their suggestions (never to the case)."""
        assert self.core is not None
        proposals, _failed = llm_term_suggestions(self.core, [u.text for u in unmapped])
        extra: dict[str, list[SuggestionOut]] = {}
        for p in proposals:
            extra.setdefault(p.span, []).append(
                SuggestionOut(id=p.id, label=p.label, score=p.score, source="llm")
            )
        result = []
        for span in unmapped:
            known = {s.id for s in span.suggestions}
            added = [s for s in extra.get(span.text.strip(), []) if s.id not in known]
            result.append(span.model_copy(update={"suggestions": added + span.suggestions}))
        return result

    def _named(self, name: str) -> Predictor:
        assert self.core is not None
        with self._predict_lock:
            predictor = self._others.get(name)
            if predictor is None:
                try:
                    predictor = self.core.predictor(name)
                except ConfigError as exc:
                    raise InvalidRecordError(
                        exc.message, source="request", field="predictor", hint=exc.hint
                    ) from exc
                self._others[name] = predictor
        return predictor

    def _generate(
        self, request: PredictRequest, query: _Query, actor: Any
    ) -> tuple[Answer, Written | None]:
        if self.core is None:
            raise InvalidRecordError(
                "this service answers with its own predictor only",
                source="request",
                field="predictor",
            )
        predictor = self._named(request.predictor or self.predictor.name)
        with self._predict_lock:
            prediction, written = predict_with(
                self.core,
                predictor,
                query.case(),
                request.top_k,
                actor=actor,
                explain_it=request.explain,
            )
        if query.genomics is not None and predictor.name != GENOMIC_PREDICTOR:
            prediction.warnings.append(
                f"the genes and variants were not used: predictor {predictor.name!r} ranks "
                f"phenotypes only (use {GENOMIC_PREDICTOR!r})"
            )
        return Answer.of(prediction), written

    def _extract(self, text: str) -> Extracted:
        if len(text) > self.max_text_chars:
            raise InputTooLargeError(
                f"the text has {len(text):,} characters, more than {self.max_text_chars:,}",
                hint="shorten the note to the findings that matter (the limit is the site's "
                "OCAIS_SERVE_MAX_TEXT_CHARS)",
            )
        if self.extractor is None:
            raise InvalidRecordError(
                "this installation cannot read free text (no concept recognizer)",
                source="request",
                field="text",
                hint="add the findings one by one from the suggestions instead, and ask your "
                "administrator to install the text reader",
            )
        result = self.extractor(text)
        return (result[0], result[1], result[2] if len(result) > 2 else [])

    def _resolve(
        self, observations: Sequence[tuple[str, bool]], *, from_text: bool
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return resolve_terms(self.kb, observations, from_text=from_text)

    def _predict(
        self,
        observed: tuple[str, ...],
        excluded: tuple[str, ...],
        sex: Sex,
        age: float | None,
        top_k: int,
    ) -> Answer:
        key: CacheKey = (observed, excluded, sex.value, age, top_k)
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        case = query_case(observed, excluded, sex, age)
        with self._predict_lock:
            prediction = self.predictor.predict(case, top_k)
        result = Answer.of(prediction)
        if self.cache_size:
            with self._cache_lock:
                self._cache[key] = result
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return result
