"""The GenAI use cases: which LLM an installation uses, explanations, referral letters, and the
measured weight of an LLM in the ``rag`` predictor.

* :func:`open_llm` builds the configured backend (settings ``llm_*``; ``auto``: ``openai`` when
  ``OCAIS_LLM_URL`` is set, else ``none``) and :func:`llm_status` says in one line what is on.
* :func:`explain_prediction` and :func:`write_letter` write for clinicians (LLM or template).
  A letter is written from **de-identified** input: the note is scrubbed (names, record numbers,
  dates, contacts) before anything reads it, and the letter is scrubbed again, so identifiers in
  the input never reach the letter, whichever model writes it.
* :class:`Calibration` keeps, per model, the weight ``ocais llm calibrate`` measured: how much the
  model's order may move the ranker's (0 until measured).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocais.config import Settings
from ocais.errors import ConfigError, InvalidRecordError
from ocais.llm.adapters import BUNDLED_GEMMA, adapter_base, base_model_path
from ocais.llm.base import LLMBackend, create_backend, metered
from ocais.llm.findings import Proposal
from ocais.llm.writing import Written, explain, write_letter
from ocais.predict.base import Predictor
from ocais.predict.generative import SimilarCase
from ocais.schemas import Case, Prediction, Sex
from ocais.workflows.predicting import query_case

if TYPE_CHECKING:
    from ocais.workflows.services import Services

CALIBRATION_FILE = "llm-calibration.json"


# --- which LLM ------------------------------------------------------------------------------------
def backend_name(settings: Settings) -> str:
    if settings.llm_backend != "auto":
        return settings.llm_backend
    return "openai" if settings.llm_url else "none"


def open_llm(settings: Settings) -> LLMBackend:
    """The configured backend, metered (calls, failures, latency and tokens are counted)."""
    name = backend_name(settings)
    options: dict[str, Any] = dict(settings.llm_options)
    if name == "openai":
        if not settings.llm_url:
            raise ConfigError(
                "the openai LLM backend needs OCAIS_LLM_URL",
                hint="e.g. OCAIS_LLM_URL=http://127.0.0.1:8080/v1 after `ocais llm serve`",
            )
        options.setdefault("base_url", settings.llm_url)
        options.setdefault("model", settings.llm_model)
        options.setdefault("api_key_env", settings.llm_api_key_env)
        options.setdefault("timeout", settings.llm_timeout)
    elif name in ("llamacpp", "transformers") and settings.llm_model:
        options.setdefault("model", settings.llm_model)
    if settings.llm_adapter:
        if name != "transformers":
            raise ConfigError(
                f"OCAIS_LLM_ADAPTER needs the transformers backend, not {name}",
                hint="set OCAIS_LLM_BACKEND=transformers and OCAIS_LLM_MODEL to the base model",
            )
        from ocais.workflows.sharing import resolve_artifact

        # a folder, or NAME[@VERSION] of an adapter package pulled into this site's registry
        options.setdefault(
            "adapter", str(resolve_artifact(settings, settings.llm_adapter, "adapter")[0])
        )
    return metered(create_backend(name, **options))


def llm_status(settings: Settings) -> str:
    """One line for start-up: which LLM the installation uses, or that LLM features are off."""
    name = backend_name(settings)
    if name == "none":
        return (
            "LLM features are off (no OCAIS_LLM_URL): predictions, explanations and letters "
            "use the ranker and templates; set OCAIS_LLM_URL to an OpenAI-compatible server "
            "(e.g. `ocais llm serve`) to turn them on"
        )
    where = settings.llm_url if name == "openai" else (settings.llm_model or "the default model")
    return f"LLM: {name} backend, {where}"


# --- the measured weight ------------------------------------------------------------------------
@dataclass
class Calibration:
    """Per model, the weight of its order in ``rag`` and what it was measured on."""

    path: Path
    models: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path) -> Calibration:
        path = data_dir / CALIBRATION_FILE
        try:
            models = json.loads(path.read_text(encoding="utf-8")).get("models", {})
        except FileNotFoundError:
            models = {}
        except (OSError, ValueError, AttributeError) as exc:
            raise ConfigError(
                f"cannot read {path}: {exc}", hint="delete it and run `ocais llm calibrate`"
            ) from exc
        return cls(path, dict(models))

    def weights(self) -> dict[str, float]:
        return {model: float(entry["weight"]) for model, entry in self.models.items()}

    def save(self, model: str, entry: dict[str, Any]) -> None:
        self.models[model] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"models": self.models}, indent=1), encoding="utf-8")
        temporary.replace(self.path)


def llm_weights(settings: Settings) -> Callable[[str], float]:
    """The weight of a model's order in ``rag``: ``OCAIS_LLM_WEIGHT`` when set, else the one
    ``ocais llm calibrate`` measured for that model, else 0."""
    if settings.llm_weight is not None:
        fixed = float(settings.llm_weight)
        return lambda _model: fixed
    measured = Calibration.load(settings.data_dir).weights()
    return lambda model: measured.get(model, 0.0)


# --- explanations and letters ---------------------------------------------------------------
def explain_prediction(services: Services, case: Case, prediction: Prediction) -> Written:
    """An explanation of a differential (the prediction's own, from ``rag``, when it has one)."""
    if prediction.explanation:
        info = prediction.provenance.parameters.get("llm") or {}
        return Written(prediction.explanation, "llm", info.get("model"), info.get("prompt"))
    return explain(services.knowledge, services.llm_or_none(), case, prediction)


@dataclass(frozen=True)
class Letter:
    markdown: str
    written: Written
    prediction: Prediction
    deidentified: dict[str, int]  # identifiers replaced in the input, by kind

    def as_dict(self) -> dict[str, Any]:
        return {
            "markdown": self.markdown,
            "source": self.written.source,
            "model": self.written.model,
            "failed": self.written.failed,
            "prompt": self.written.prompt,
            "deidentified": self.deidentified,
            "differential": [
                {
                    "rank": c.rank,
                    "disease_id": c.disease_id,
                    "mondo_id": c.mondo_id,
                    "name": c.name,
                    "probability": c.probability,
                }
                for c in self.prediction.candidates
            ],
            "provenance": {
                **self.written.provenance(),
                "knowledge_version": self.prediction.provenance.knowledge_version,
                "predictor": self.prediction.predictor,
                "created_at": dt.datetime.now(dt.UTC).isoformat(),
            },
        }


Scrub = Callable[[str], tuple[str, dict[str, int]]]


def letter_scrubber(secret_env: str) -> Scrub:
    """De-identification for letters: the site's (its secret keys the date shift) or, when no
    secret is set, one with a throwaway key — nothing here is stored, so no pseudonym needs to
    be stable, but identifiers must go all the same."""
    from ocais.ingest.deid import DeidConfig, Deidentifier

    secret = os.environ.get(secret_env) or secrets.token_hex(32)
    deidentifier = Deidentifier(DeidConfig(secret=secret))

    def scrub(text: str) -> tuple[str, dict[str, int]]:
        result = deidentifier.deidentify(text, patient_key="letter")
        return result.text, {str(kind): n for kind, n in result.counts.items()}

    return scrub


def write_letter_for_text(
    services: Services,
    text: str,
    *,
    top_k: int = 10,
    sex: Sex = Sex.UNKNOWN,
    age_years: float | None = None,
    findings: Sequence[tuple[str, bool]] = (),
) -> Letter:
    """A referral letter from a clinician's note: de-identify, read the findings, rank, write.
    ``findings`` ((HPO id, excluded) pairs the clinician reviewed, e.g. on the chat page), when
    given, are the letter's findings and the note is context (a finding removed in review stays
    out even if the note mentions it); ``sex`` and ``age_years`` complete the note."""
    from ocais.ingest.text import extract_text, to_observations

    if not text.strip() and not findings:
        raise InvalidRecordError("the note is empty", source="letter", field="text")
    scrub = letter_scrubber(services.settings.deid_secret_env)
    clean, counts = scrub(text) if text.strip() else ("", {})
    found = extract_text(clean, services.knowledge) if clean else None
    if findings:
        status = dict(findings)
    else:
        status = {o.id: o.excluded for o in to_observations(found.mentions)} if found else {}
    family = sorted({m.id for m in found.mentions if m.family and not m.excluded}) if found else []
    case = query_case(
        [t for t, excluded in status.items() if not excluded],
        [t for t, excluded in status.items() if excluded],
        sex,
        age_years,
        source="letter",
    )
    return _letter(services, case, clean, family, counts, top_k, scrub)


def write_letter_for_case(services: Services, case: Case, *, top_k: int = 10) -> Letter:
    """A referral letter from a structured case (a phenopacket, a stored case): its findings,
    sex and age; its notes de-identified (again) before use."""
    scrub = letter_scrubber(services.settings.deid_secret_env)
    notes, counts = scrub("\n\n".join(n.text for n in case.notes)) if case.notes else ("", {})
    anonymous = Case.model_validate(
        {
            "id": "letter",
            "subject": {"sex": case.subject.sex, "age_years": case.subject.age_years},
            "phenotypes": [p.model_dump() for p in case.phenotypes],
            "provenance": {"source": "letter", "source_format": "letter"},
        }
    )
    return _letter(services, anonymous, notes, (), counts, top_k, scrub)


def _letter(
    services: Services,
    case: Case,
    notes: str,
    family: Sequence[str],
    counts: dict[str, int],
    top_k: int,
    scrub: Scrub,
) -> Letter:
    predictor = services.predictor("phenotype")
    prediction = predictor.predict(case, top_k)
    written = write_letter(
        services.knowledge, services.llm_or_none(), case, prediction, notes=notes, family=family
    )
    # the letter is scrubbed too: whatever a model repeats or invents, no identifier leaves
    markdown, _found = scrub(written.text) if written.source == "llm" else (written.text, {})
    return Letter(markdown, written, prediction, counts)


# --- serving a local model, checking the configured one -----------------------------------------
def local_llm_app(
    model: str | None,
    *,
    context: int = 4096,
    threads: int | None = None,
    adapter: str | None = None,
) -> tuple[Any, LLMBackend]:
    """The OpenAI-compatible app of ``ocais llm serve`` and its backend: a GGUF file (or the
    default Gemma 3 270M) with llama.cpp; a model directory, or any base with a LoRA
    ``adapter``, with transformers."""
    from ocais.llm.server import create_llm_app

    backend: LLMBackend
    if adapter is not None:
        if model is not None:
            base = Path(model).expanduser()
        else:  # the base the adapter records (else the bundled Gemma)
            base = adapter_base(Path(adapter).expanduser()) or base_model_path(BUNDLED_GEMMA)
        backend = create_backend(
            "transformers",
            model=str(base),
            adapter=str(Path(adapter).expanduser()),
            max_context=context,
            threads=threads,
        )
    elif model is not None and Path(model).expanduser().is_dir():
        backend = create_backend("transformers", model=str(Path(model).expanduser()))
    else:
        backend = create_backend("llamacpp", model=model, context=context, threads=threads)
    return create_llm_app(backend), backend


def check_llm(services: Services) -> dict[str, Any]:
    """What is configured, whether it answers (one tiny call) and its weight in rag."""
    settings = services.settings
    name = backend_name(settings)
    data: dict[str, Any] = {"backend": name, "status": llm_status(settings)}
    if name == "none":
        return data | {"ok": False}
    from ocais.errors import LLMError
    from ocais.llm.base import ChatMessage

    llm = services.llm()
    try:
        completion = llm.complete([ChatMessage("user", "Say OK.")], max_tokens=4)
    except LLMError as exc:
        return data | {"ok": False, "error": exc.code, "message": exc.message}
    weight = llm_weights(settings)(completion.model)
    return data | {
        "ok": True,
        "model": completion.model,
        "seconds": round(completion.seconds, 3),
        "rag_weight": weight,
        "capabilities": vars(llm.capabilities),
    }


# --- calibration ------------------------------------------------------------------------------
WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)


def calibrate_llm(
    services: Services,
    directory: Path,
    *,
    limit: int = 100,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> dict[str, Any]:
    """Ask the configured LLM about ``limit`` development cases once, score the rag order at
    each weight of :data:`WEIGHTS`, and keep the best (top-1, then top-10, then the smaller
    weight: a model that adds nothing gets 0)."""
    import random

    from ocais.evaluate.benchmark import confirmed_truth, read_cases
    from ocais.predict.generative import RagPredictor

    if services.llm_or_none() is None:
        raise ConfigError("no LLM is configured: nothing to calibrate", hint="set OCAIS_LLM_URL")
    kb = services.knowledge
    cases, _skipped = read_cases(directory, kb)
    if not cases:
        raise ConfigError(f"no case with a confirmed diagnosis in {directory}")
    chosen = sorted(cases, key=lambda c: c.id)
    random.Random(0).shuffle(chosen)
    chosen = chosen[:limit]
    rag = services.predictor("rag", weight=0.0)
    assert isinstance(rag, RagPredictor)
    consulted = []
    for i, case in enumerate(chosen):
        consulted.append((case, rag.consult(case, 10)))
        if progress is not None:
            progress("calibrate", i + 1, len(chosen))
    rows = []
    for weight in WEIGHTS:
        hits1 = hits10 = 0
        for case, consultation in consulted:
            wanted = {kb.disease_group(d) for d in confirmed_truth(case)}
            ranked = rag.combine(consultation, weight, 10).candidates
            groups = [c.mondo_id or kb.disease_group(c.disease_id) for c in ranked]
            hits1 += bool(groups[:1] and groups[0] in wanted)
            hits10 += any(g in wanted for g in groups)
        rows.append(
            {"weight": weight, "top1": hits1 / len(consulted), "top10": hits10 / len(consulted)}
        )
    best = max(rows, key=lambda r: (r["top1"], r["top10"], -r["weight"]))
    stats = rag.llm_stats()
    model = stats["model"]
    entry = {
        "weight": best["weight"],
        "n_cases": len(consulted),
        "by_weight": rows,
        "source": str(directory),
        "knowledge_version": kb.version,
        "llm": stats,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    Calibration.load(services.settings.data_dir).save(model, entry)
    return {"model": model, **entry}


# --- predicting with an LLM ------------------------------------------------------------------
def similar_for_rag(
    services: Services, actor: Any, observed: Sequence[str], k: int = 3
) -> list[SimilarCase]:
    """The stored cases most like the query that ``actor`` may see (access rules of
    :func:`ocais.workflows.cases.search_cases`), as ``rag`` shows them: diagnosis and shared
    findings only. Empty when search is unavailable or nothing is visible."""
    from ocais.errors import OcaisError
    from ocais.search.query import SearchQuery
    from ocais.workflows.cases import search_cases

    if not observed or services.search_or_none() is None:
        return []
    try:
        result = search_cases(services, actor, SearchQuery(hpo=list(observed), k=k))
    except OcaisError:
        return []
    kb = services.knowledge
    similar = []
    for hit in result.hits:
        names = [kb.disease_name(d) if kb.has_disease(d) else d for d in hit.diagnoses]
        shared = [str(p.get("label") or p.get("id")) for p in hit.shared_phenotypes][:8]
        similar.append(SimilarCase(", ".join(names) or "no diagnosis recorded", shared))
    return similar


def predict_with(
    services: Services,
    predictor: Predictor,
    case: Case,
    top_k: int,
    *,
    actor: Any = None,
    explain_it: bool = False,
) -> tuple[Prediction, Written | None]:
    """A prediction by ``predictor`` (``rag`` is shown the similar cases ``actor`` may see) and,
    when asked, its explanation (the rag answer's own, else the LLM's, else the template's)."""
    from ocais.predict.generative import RagPredictor

    if isinstance(predictor, RagPredictor):
        similar = similar_for_rag(services, actor, case.observed) if actor is not None else []
        prediction = predictor.predict(case, top_k, similar=similar)
    else:
        prediction = predictor.predict(case, top_k)
    written = explain_prediction(services, case, prediction) if explain_it else None
    return prediction, written


def explanation_stream(
    services: Services, prediction: Prediction, case: Case
) -> tuple[str | None, Iterator[str]]:
    """(the model that writes, or ``None`` for the template; the explanation of ``prediction``
    piece by piece) — for the chat page. A rag answer's own explanation is given as it is."""
    from ocais.errors import LLMError
    from ocais.llm.writing import stream_explanation

    if prediction.explanation:
        info = prediction.provenance.parameters.get("llm") or {}
        return info.get("model"), iter([prediction.explanation])
    llm = services.llm_or_none()
    model = None
    if llm is not None:
        try:
            model = llm.model
        except LLMError:
            llm = None
    return model, stream_explanation(services.knowledge, llm, case, prediction)


def llm_term_suggestions(
    services: Services, spans: Sequence[str]
) -> tuple[list[Proposal], str | None]:
    """HPO terms the site's LLM proposes for spans the dictionary could not read (suggestions
    only; nothing is added to a case). ``([], "llm_unavailable")`` when LLM features are off."""
    from ocais.llm.findings import propose_findings

    llm = services.llm_or_none()
    if llm is None:
        return [], "llm_unavailable"
    return propose_findings(services.knowledge, llm, spans)
