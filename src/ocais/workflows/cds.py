"""The differential inside the EHR: a CDS Hooks 2.0 ``patient-view`` service (decision 0015).

The EHR (the CDS client) calls the service when a chart is opened, with the patient's
Patient, Conditions and Observations as *prefetch* (or, without prefetch, a FHIR server and a
bearer token to read them from). The chart is read by the same FHIR reader as imports (HPO codes
directly; SNOMED CT and UMLS through the ontology's cross-references; ICD-10-CM conditions keep
their MONDO disease; findings known only by text through the concept recognizer), ranked by the
site's predictor, and answered as cards. Nothing of the chart is stored: only the prediction
(HPO ids, sex, age, candidates), like any other, so feedback on the card can refer to it.

This module holds the pieces a shell composes: the discovery document, the request model,
reading the chart, and the cards. The HTTP shell (``ocais.serve.routes.cds``) checks the EHR's
JWT, runs the prediction through the service's prediction path and stores it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ocais.errors import InvalidRecordError, NotFoundError, OcaisError
from ocais.ingest.base import ReaderContext
from ocais.ingest.fhir import FhirReader
from ocais.schemas import Case
from ocais.workflows.predicting import text_observations
from ocais.workflows.services import Services

SERVICE_ID = "ocais-rare-disease-differential"
HOOK = "patient-view"
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
}
SUMMARY_MAX = 140
TOP_SHOWN = 5
GENES_SHOWN = 15  # genes worth testing listed on the card
NEXT_SHOWN = 3
HPO_SYSTEM = "http://human-phenotype-ontology.org"


class CdsUnavailableError(OcaisError, LookupError):
    """The chart could not be obtained (no prefetch and no FHIR server, an unreachable server,
    a refused token): CDS Hooks' 412 Precondition Failed."""

    code = "cds_precondition_failed"


# --- discovery --------------------------------------------------------------------------------
def discovery() -> dict[str, Any]:
    """``GET /cds-services``: the one service, its hook and prefetch templates."""
    return {
        "services": [
            {
                "hook": HOOK,
                "id": SERVICE_ID,
                "title": "OCAIS rare-disease differential",
                "description": "Ranks rare diseases that fit the patient's recorded findings "
                "(HPO phenotypes; SNOMED CT, UMLS and ICD-10-CM codes through ontology "
                "cross-references), with the evidence for each and the findings worth checking "
                "next. Decision support for the clinician, who confirms every diagnosis.",
                "prefetch": dict(PREFETCH),
                "usageRequirements": "Findings coded in HPO or SNOMED CT give the best "
                "differential; the chart is not stored.",
            }
        ]
    }


# --- the request ------------------------------------------------------------------------------
class FhirAuthorization(BaseModel):
    model_config = ConfigDict(extra="allow")

    access_token: str = Field(repr=False)
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None


class HookContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    userId: str | None = None
    patientId: str = Field(min_length=1, max_length=256)
    encounterId: str | None = None


class HookRequest(BaseModel):
    """A CDS Hooks 2.0 service request (only what this service reads is checked)."""

    model_config = ConfigDict(extra="allow")

    hook: str
    hookInstance: str = Field(min_length=1, max_length=256)
    context: HookContext
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    prefetch: dict[str, Any] | None = None


# --- the chart --------------------------------------------------------------------------------
Fetch = Callable[[str, str, str | None], dict[str, Any]]  # (server, patient id, token) -> Bundle


def fetch_chart(server: str, patient_id: str, token: str | None) -> dict[str, Any]:
    """The patient's Patient, Conditions and Observations from the EHR's FHIR server."""
    from ocais.ingest.fhir_client import fetch_patient_bundle

    return fetch_patient_bundle(
        server, patient_id, token=token, types=("Condition", "Observation"), timeout=10
    )


def _entries(value: Any) -> list[dict[str, Any]]:
    """The resources of a prefetch value: a resource, or a searchset Bundle of them."""
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "Bundle":
        return [
            e["resource"]
            for e in value.get("entry") or []
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
        ]
    return [value] if "resourceType" in value else []


def chart(request: HookRequest, fetch: Fetch | None) -> dict[str, Any]:
    """The patient's chart as one Bundle. Prefetch is used when it holds the Patient; otherwise
    the FHIR server named in the request is read with its token; neither:
    ``CdsUnavailableError``."""
    prefetch = request.prefetch or {}
    patient = _entries(prefetch.get("patient"))
    if patient:
        resources = list(patient)
        for key in ("conditions", "observations"):
            resources += _entries(prefetch.get(key))
    elif request.fhirServer and fetch is not None:
        token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
        try:
            bundle = fetch(request.fhirServer, request.context.patientId, token)
        except NotFoundError as exc:
            raise CdsUnavailableError(
                "the FHIR server has no record of this patient", hint=exc.hint
            ) from exc
        except OcaisError as exc:
            raise CdsUnavailableError(
                f"the patient's record could not be read from the FHIR server ({exc.code})",
                hint="check fhirServer and that fhirAuthorization's token is valid and allows "
                "patient/*.read",
            ) from exc
        resources = _entries(bundle)
    else:
        raise CdsUnavailableError(
            "no prefetch of the patient and no fhirServer to read it from",
            hint="send the prefetch templates of GET /cds-services, or fhirServer with "
            "fhirAuthorization",
        )
    wanted = {"Patient", "Condition", "Observation"}
    kept = [r for r in resources if r.get("resourceType") in wanted]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in kept],
    }


@dataclass
class ChartCase:
    """What the chart says, as a case to rank: phenotypes from codes and from text."""

    case: Case | None
    from_codes: int = 0
    from_text: int = 0


def read_chart(services: Services, bundle: dict[str, Any]) -> ChartCase:
    """The chart's case: the FHIR reader's phenotypes, plus those recognized in the text of
    conditions and observations that carry no code it could map. Nothing is stored."""
    kb = services.knowledge
    # the patient id is hashed (with the site secret, else a key used once): this case is never
    # stored or matched to another
    context = ReaderContext(
        terms=kb, site=services.settings.site, installation_key=secrets.token_hex(32)
    )
    reader = FhirReader(context)
    records = list(reader.read_document(bundle, "cds-hooks"))
    cases = [r for r in records if isinstance(r, Case)]
    result = ChartCase(case=cases[0] if cases else None)
    if result.case is None:
        return result
    case = result.case
    result.from_codes = len(case.phenotypes)
    texts = _uncoded_texts(bundle, case)
    known = {p.id for p in case.phenotypes}
    added = []
    for text in texts:
        for term, excluded in text_observations(kb, text):
            if term not in known:
                known.add(term)
                added.append({"id": term, "excluded": excluded})
    if added:
        from ocais.schemas import PhenotypeObservation

        case = case.model_copy(
            update={
                "phenotypes": [
                    *case.phenotypes,
                    *(PhenotypeObservation(id=a["id"], excluded=a["excluded"]) for a in added),
                ]
            }
        )
        result.case = case
        result.from_text = len(added)
    return result


def _uncoded_texts(bundle: dict[str, Any], case: Case) -> list[str]:
    """Texts of conditions/observations the codes did not map: ``code.text``, or the display of
    a coding whose finding has no HPO term."""
    texts: list[str] = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") or {}
        if resource.get("resourceType") not in ("Condition", "Observation"):
            continue
        code = resource.get("code") or {}
        if not (code.get("coding") or []) and isinstance(code.get("text"), str):
            texts.append(code["text"])
    for finding in case.findings:
        kind, unmapped = finding.category.value, not finding.hpo_ids
        if kind in ("condition", "observation") and unmapped and finding.value is None:
            texts.append(finding.display or "")
    return [t.strip() for t in dict.fromkeys(texts) if t and t.strip()][:200]


# --- cards ------------------------------------------------------------------------------------
def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _pct(value: Any) -> str:
    return f"{100 * value:.0f}%" if isinstance(value, int | float) else "—"


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


@dataclass
class CardContext:
    source_label: str
    source_url: str
    link_url: str | None
    patient_id: str


def cards(
    prediction: dict[str, Any], found: ChartCase, where: CardContext, prediction_id: str
) -> list[dict[str, Any]]:
    """The cards for a ranked differential (one card; none when nothing was ranked)."""
    candidates = prediction.get("candidates") or []
    if not candidates:
        return []
    top = candidates[0]
    others = len(candidates) - 1
    summary = _truncate(
        f"Rare-disease differential: {top['name']} ({_pct(top.get('probability'))})"
        + (f" and {others} more" if others > 0 else ""),
        SUMMARY_MAX,
    )
    rows = ["| # | Disease | Probability | Matching findings |", "|---|---|---|---|"]
    for candidate in candidates[:TOP_SHOWN]:
        matched = (candidate.get("evidence") or {}).get("matched") or []
        shown = ", ".join(
            _md(m.get("patient_label") or m.get("patient_term") or "")
            for m in matched[:4]
            if isinstance(m, dict)
        )
        rows.append(
            f"| {candidate['rank']} | {_md(candidate['name'])} ({candidate['disease_id']}) | "
            f"{_pct(candidate.get('probability'))} | {shown or '—'} |"
        )
    nexts = (prediction.get("next_phenotypes") or [])[:NEXT_SHOWN]
    detail = [
        f"{found.from_codes} phenotype(s) from the chart's coded findings"
        + (f" and {found.from_text} recognized in their text" if found.from_text else "")
        + ".",
        "",
        *rows,
    ]
    if nexts:
        detail += ["", "**Worth checking next** (best separates the top diseases):"]
        detail += [f"- {_md(n.get('label') or n.get('id'))} ({n.get('id')})" for n in nexts]
    genes = (prediction.get("genes_to_test") or [])[:GENES_SHOWN]
    if genes:
        detail += [
            "",
            "**Genes worth testing** (of the top diseases): "
            + ", ".join(_md(str(g.get("symbol"))) for g in genes),
        ]
    detail += ["", "_Decision support: confirm every diagnosis clinically._"]
    card: dict[str, Any] = {
        "uuid": prediction_id,
        "summary": summary,
        "indicator": "info",
        "detail": "\n".join(detail),
        "source": {"label": where.source_label, "url": where.source_url},
    }
    if nexts:
        card["selectionBehavior"] = "any"
        card["suggestions"] = [
            _suggestion(n, where.patient_id, prediction_id, i) for i, n in enumerate(nexts)
        ]
    if where.link_url:
        card["links"] = [
            {"label": "Open this differential in OCAIS", "url": where.link_url, "type": "absolute"}
        ]
    return [card]


def _suggestion(
    next_phenotype: dict[str, Any], patient_id: str, prediction_id: str, index: int
) -> dict[str, Any]:
    """Record a finding worth checking: a preliminary Observation coded in HPO, to be completed
    (present / absent) by the clinician."""
    term, label = next_phenotype.get("id"), next_phenotype.get("label") or next_phenotype.get("id")
    return {
        "label": _truncate(f"Check and record: {label}", 80),
        "uuid": f"{prediction_id}-next-{index}",
        "actions": [
            {
                "type": "create",
                "description": f"Record whether {label} ({term}) is present",
                "resource": {
                    "resourceType": "Observation",
                    "status": "preliminary",
                    "code": {
                        "coding": [{"system": HPO_SYSTEM, "code": term, "display": label}],
                        "text": label,
                    },
                    "subject": {"reference": f"Patient/{patient_id}"},
                },
            }
        ],
    }


def no_findings_card(where: CardContext, found: ChartCase) -> dict[str, Any]:
    """An informative card when the chart holds nothing the ranker can use."""
    return {
        "uuid": f"nothing-{secrets.token_hex(8)}",
        "summary": "OCAIS: no findings in the chart to rank rare diseases from",
        "indicator": "info",
        "detail": "The conditions and observations of this chart carry no code OCAIS maps to a "
        "phenotype (HPO, or SNOMED CT / UMLS cross-referenced to HPO) and no text it recognizes. "
        "Record the patient's findings (e.g. with HPO codes) to get a differential.",
        "source": {"label": where.source_label, "url": where.source_url},
    }


# --- the viewer's example -------------------------------------------------------------------
def example_request() -> dict[str, Any]:
    """A ``patient-view`` call for a made-up chart (a teenager with Marfan syndrome's findings,
    three coded in SNOMED CT, two in HPO): what the card viewer shows; no real patient."""
    subject = {"reference": "Patient/example"}

    def coded(kind: str, rid: str, system: str, code: str, display: str) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": kind,
            "id": rid,
            "subject": subject,
            "code": {"coding": [{"system": system, "code": code, "display": display}]},
        }
        if kind == "Observation":
            resource.update(status="final", valueBoolean=True)
        return resource

    snomed = "http://snomed.info/sct"
    conditions = [
        coded("Condition", "c1", snomed, "248328003", "Tall stature"),
        coded("Condition", "c2", snomed, "62250003", "Arachnodactyly"),
        coded("Condition", "c3", snomed, "74969002", "Ectopia lentis"),
    ]
    observations = [
        coded("Observation", "o1", HPO_SYSTEM, "HP:0002616", "Aortic root aneurysm"),
        coded("Observation", "o2", HPO_SYSTEM, "HP:0001659", "Aortic regurgitation"),
    ]

    def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(resources),
            "entry": [{"resource": r} for r in resources],
        }

    return {
        "hook": HOOK,
        "hookInstance": "example",
        "context": {"userId": "Practitioner/example", "patientId": "example"},
        "prefetch": {
            "patient": {
                "resourceType": "Patient",
                "id": "example",
                "gender": "male",
                "birthDate": "2012-04-09",
            },
            "conditions": searchset(conditions),
            "observations": searchset(observations),
        },
    }


# --- feedback ---------------------------------------------------------------------------------
class OverrideReason(BaseModel):
    model_config = ConfigDict(extra="allow")

    reason: dict[str, Any] | None = None
    userComment: str | None = Field(default=None, max_length=2000)


class CardFeedback(BaseModel):
    model_config = ConfigDict(extra="allow")

    card: str = Field(min_length=1, max_length=128)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[dict[str, Any]] = Field(default_factory=list)
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: str


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    feedback: list[CardFeedback] = Field(min_length=1, max_length=100)


def feedback_comment(item: CardFeedback) -> str:
    """How a card's outcome is kept in the service's feedback (a structured comment)."""
    parts = [f"cds-hooks {item.outcome}"]
    if item.acceptedSuggestions:
        ids = ", ".join(str(s.get("id")) for s in item.acceptedSuggestions if isinstance(s, dict))
        parts.append(f"accepted suggestions: {ids}")
    if item.overrideReason is not None:
        reason = item.overrideReason.reason or {}
        shown = reason.get("display") or reason.get("code")
        if shown:
            parts.append(f"override reason: {shown}")
        if item.overrideReason.userComment:
            parts.append(f"comment: {item.overrideReason.userComment}")
    return "; ".join(parts)


def check_service(service_id: str) -> None:
    if service_id != SERVICE_ID:
        raise NotFoundError(
            f"no CDS service {service_id!r}", hint=f"GET /cds-services lists {SERVICE_ID}"
        )


def check_hook(request: HookRequest) -> None:
    if request.hook != HOOK:
        raise InvalidRecordError(
            f"this service answers the {HOOK} hook, not {request.hook}",
            source="request",
            field="hook",
        )
