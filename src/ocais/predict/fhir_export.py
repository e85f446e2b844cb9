"""A differential as a FHIR R4 ``RiskAssessment`` (validated with ``fhir.resources.R4B``).

Two entry points build the same shape: :func:`risk_assessment` from a fresh
:class:`~ocais.schemas.Prediction` (the CLI's ``ocais predict --fhir``), and
:func:`risk_assessment_from_record` from a stored prediction row (``GET
/api/v1/predictions/{id}/fhir``). The mapping:

* ``status`` ``final``; ``occurrenceDateTime`` when the prediction was made; ``id`` the stored
  prediction's id when there is one;
* ``subject``: the reference the caller gives, else a display-only reference ("patient of this
  request (not identified)"). OCAIS keeps no patient identifiers, so none is ever made up, and the
  resource carries no ``identifier`` element;
* ``method``: the predictor (coding ``urn:ocais:predictor``, versioned by the OCAIS release when
  known) with the software and HPO release in its text;
* ``basis`` and ``contained``: the HPO terms the prediction was made from, when known, as contained
  ``Observation`` resources (code: the HPO term, system ``http://human-phenotype-ontology.org``;
  ``valueBoolean`` true for an observed finding, false for an excluded one), referenced as
  ``#phenotype-N``. ``basis`` must hold references, so the terms cannot be put there directly;
* one ``prediction`` per candidate, in rank order: ``outcome`` coded in every system the disease
  has (its best entry first: OMIM ``https://omim.org`` and Orphanet ``http://www.orpha.net`` with
  their numeric codes; MONDO ``http://purl.obolibrary.org/obo/mondo.owl`` with the ``MONDO:`` id;
  then the disease's other OMIM/Orphanet entries), ``text`` its name; ``probabilityDecimal`` the
  posterior over diseases when the predictor gives one (a similarity score is no probability:
  it is only quoted in the rationale); ``rationale`` the rank, the score and the top evidence
  (matched phenotypes, and those that speak against). ``relativeRisk`` is never set;
* ``note``: decision support, to be confirmed by a clinician.

A prediction without candidates is a valid ``RiskAssessment`` with no ``prediction`` element and a
note saying so. A stored row keeps no evidence: its rationale names the observed terms that the
knowledge base annotates to the disease itself (exact terms only).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ocais.errors import InvalidRecordError, UnknownDiseaseError
from ocais.knowledge import KnowledgeBase
from ocais.schemas import Candidate, Prediction

if TYPE_CHECKING:
    from ocais.store.service_models import PredictionRecord

HPO_SYSTEM = "http://human-phenotype-ontology.org"
DISEASE_SYSTEMS = {
    "OMIM": "https://omim.org",
    "ORPHA": "http://www.orpha.net",
    "MONDO": "http://purl.obolibrary.org/obo/mondo.owl",
}
PREDICTOR_SYSTEM = "urn:ocais:predictor"
UNIDENTIFIED_SUBJECT = "patient of this request (not identified)"
DECISION_SUPPORT_NOTE = (
    "Decision support from OCAIS: a ranked differential diagnosis computed from the listed "
    "phenotypes, not a diagnosis. Every candidate must be confirmed by a clinician."
)
NO_CANDIDATE_NOTE = "No candidate disease was found for these phenotypes."
EVIDENCE_SHOWN = 5  # matched phenotypes named in a rationale
AGAINST_SHOWN = 3  # phenotypes against a candidate named in a rationale


def disease_coding(disease_id: str, display: str | None = None) -> dict[str, str] | None:
    """The FHIR coding of an OMIM, Orphanet or MONDO id (``None`` for other sources)."""
    prefix, _, local = disease_id.partition(":")
    system = DISEASE_SYSTEMS.get(prefix.upper())
    if system is None or not local:
        return None
    code = f"MONDO:{local}" if prefix.upper() == "MONDO" else local
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _outcome(name: str, entries: Iterable[tuple[str, str | None]]) -> dict[str, Any]:
    """A CodeableConcept for one disease: a coding per (id, display) it is known by."""
    codings: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    ids = []
    for disease_id, display in entries:
        ids.append(disease_id)
        coding = disease_coding(disease_id, display)
        if coding is None or (coding["system"], coding["code"]) in seen:
            continue
        seen.add((coding["system"], coding["code"]))
        codings.append(coding)
    if not codings:  # a source FHIR has no system for (e.g. DECIPHER): named in the text
        return {"text": f"{name} ({ids[0]})" if ids else name}
    return {"coding": codings, "text": name}


def _rationale(
    rank: int,
    score: float,
    probability: float | None,
    matched: Sequence[str],
    against: Sequence[str],
    *,
    matched_label: str = "Matched phenotypes",
) -> str:
    parts = [f"Rank {rank} of the differential; score {score:.3f} (the predictor's own scale)"]
    if probability is not None:
        parts[0] += f", posterior probability {probability:.1%}"
    if matched:
        shown = "; ".join(matched[:EVIDENCE_SHOWN])
        more = len(matched) - EVIDENCE_SHOWN
        parts.append(f"{matched_label}: {shown}" + (f" (and {more} more)" if more > 0 else ""))
    if against:
        parts.append("Against: " + "; ".join(against[:AGAINST_SHOWN]))
    return ". ".join(parts) + "."


def _candidate_rationale(candidate: Candidate) -> str:
    """Rank, score and the top evidence of a predictor's candidate."""
    evidence = candidate.evidence
    matched = [m for m in evidence.get("matched", []) if isinstance(m, dict)]
    matched.sort(key=lambda m: -float(m.get("log_lr") or 0.0))  # strongest first (stable)
    shown = []
    for m in matched:
        label = m.get("patient_label") or m.get("patient_term") or "?"
        detail = ", ".join(str(x) for x in (m.get("patient_term"), m.get("relation")) if x)
        shown.append(f"{label} ({detail})" if detail else str(label))
    against = [
        f"{c.get('label') or c.get('id')} ({c.get('reason') or 'conflicting'})"
        for c in evidence.get("conflicts", [])
        if isinstance(c, dict)
    ]
    return _rationale(candidate.rank, candidate.score, candidate.probability, shown, against)


def _method(predictor: str, software: str | None, knowledge_version: str | None) -> dict[str, Any]:
    coding: dict[str, str] = {
        "system": PREDICTOR_SYSTEM,
        "code": predictor,
        "display": f"OCAIS {predictor} predictor",
    }
    version = software.removeprefix("ocais ").strip() if software else None
    if version:
        coding["version"] = version
    details = [software] if software else []
    if knowledge_version:
        details.append(f"HPO {knowledge_version}")
    text = f"OCAIS {predictor} predictor" + (f" ({', '.join(details)})" if details else "")
    return {"coding": [coding], "text": text}


def _phenotypes(
    observed: Sequence[str], excluded: Sequence[str], knowledge: KnowledgeBase | None
) -> list[dict[str, Any]]:
    """Contained Observations: one per HPO term, present (true) or explicitly absent (false).

    With ``knowledge``, alternative and obsolete ids become their current term and terms the
    release does not know (which the predictor ignored) are left out; a term both observed and
    excluded counts as observed, as in the prediction."""
    present_terms = _current(observed, knowledge)
    absent_terms = [t for t in _current(excluded, knowledge) if t not in present_terms]
    terms = [(t, True) for t in present_terms] + [(t, False) for t in absent_terms]
    resources = []
    for n, (term, present) in enumerate(terms, start=1):
        coding = {"system": HPO_SYSTEM, "code": term}
        label = _term_label(knowledge, term)
        if label:
            coding["display"] = label
        resources.append(
            {
                "resourceType": "Observation",
                "id": f"phenotype-{n}",
                "status": "final",
                "code": {"coding": [coding], **({"text": label} if label else {})},
                "valueBoolean": present,
            }
        )
    return resources


def _current(terms: Sequence[str], knowledge: KnowledgeBase | None) -> list[str]:
    """``terms`` once each, in order, as current ids of ``knowledge`` (unknown ones dropped)."""
    if knowledge is None:
        return list(dict.fromkeys(terms))
    resolved = (knowledge.resolve_id(t) for t in terms)
    return list(dict.fromkeys(t for t in resolved if t is not None))


def _term_label(knowledge: KnowledgeBase | None, term: str) -> str | None:
    if knowledge is None:
        return None
    try:
        return knowledge.name(term)
    except (KeyError, LookupError):  # a term of another release
        return None


def _assemble(
    *,
    resource_id: str | None,
    subject_reference: str | None,
    occurrence: datetime,
    method: dict[str, Any],
    contained: list[dict[str, Any]],
    predictions: list[dict[str, Any]],
    notes: Sequence[str],
) -> dict[str, Any]:
    """The resource, validated with ``fhir.resources``; its FHIR JSON as a dict."""
    # imported when used: the FHIR models take a while to import, and most commands need none
    from fhir.resources.R4B.riskassessment import RiskAssessment

    subject = (
        {"reference": subject_reference} if subject_reference else {"display": UNIDENTIFIED_SUBJECT}
    )
    data: dict[str, Any] = {"resourceType": "RiskAssessment"}
    if resource_id is not None:
        data["id"] = resource_id
    if contained:
        data["contained"] = contained
    data |= {
        "status": "final",
        "method": method,
        "subject": subject,
        "occurrenceDateTime": occurrence.isoformat(),
    }
    if contained:
        data["basis"] = [{"reference": f"#{r['id']}"} for r in contained]
    if predictions:
        data["prediction"] = predictions
    data["note"] = [{"text": text} for text in notes]
    try:
        resource = RiskAssessment.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        field = ".".join(str(p) for p in errors[0]["loc"]) if errors else None
        raise InvalidRecordError(
            "not a valid FHIR RiskAssessment: " + (errors[0]["msg"] if errors else str(exc)),
            source="FHIR RiskAssessment",
            field=field,
            hint="a subject reference looks like 'Patient/123'; an id has at most 64 letters, "
            "digits, '-' and '.'",
        ) from exc
    exported: dict[str, Any] = json.loads(resource.model_dump_json())
    return exported


def risk_assessment(
    prediction: Prediction,
    *,
    knowledge: KnowledgeBase | None = None,
    subject_reference: str | None = None,
    prediction_id: str | None = None,
    observed: Sequence[str] = (),
    excluded: Sequence[str] = (),
) -> dict[str, Any]:
    """``prediction`` as a FHIR R4 ``RiskAssessment`` (a JSON dict), validated.

    ``knowledge`` names MONDO diseases and HPO terms; ``subject_reference`` (e.g.
    ``Patient/123``) is the caller's own reference to the patient, else the subject is display
    only; ``prediction_id`` becomes the resource id; ``observed`` and ``excluded`` (HPO ids) are
    the terms the prediction was made from, listed as its basis. Raises
    :class:`~ocais.errors.InvalidRecordError` when the result does not validate (e.g. an id FHIR
    does not allow).
    """
    entries = []
    for candidate in prediction.candidates:
        codes: list[tuple[str, str | None]] = [(candidate.disease_id, candidate.name)]
        if candidate.mondo_id:
            codes.append((candidate.mondo_id, _group_label(knowledge, candidate.mondo_id)))
        codes += [(m.id, m.name) for m in candidate.members]
        entry: dict[str, Any] = {"outcome": _outcome(candidate.name, codes)}
        if candidate.probability is not None:
            entry["probabilityDecimal"] = candidate.probability
        entry["rationale"] = _candidate_rationale(candidate)
        entries.append(entry)
    provenance = prediction.provenance
    notes = [DECISION_SUPPORT_NOTE] + ([] if entries else [NO_CANDIDATE_NOTE])
    return _assemble(
        resource_id=prediction_id,
        subject_reference=subject_reference,
        occurrence=provenance.created_at,
        method=_method(prediction.predictor, provenance.created_by, provenance.knowledge_version),
        contained=_phenotypes(observed, excluded, knowledge),
        predictions=entries,
        notes=notes,
    )


def _group_label(knowledge: KnowledgeBase | None, group_id: str) -> str | None:
    if knowledge is None:
        return None
    try:
        return knowledge.group_name(group_id)
    except (KeyError, LookupError):
        return None


def risk_assessment_from_record(
    record: PredictionRecord,
    knowledge: KnowledgeBase,
    *,
    subject_reference: str | None = None,
) -> dict[str, Any]:
    """A stored prediction row as a FHIR R4 ``RiskAssessment`` (same shape as
    :func:`risk_assessment`), named with ``knowledge``; its id is the prediction's.

    The row keeps the candidates' ids, ranks, scores and probabilities, and the observed and
    excluded terms (the basis), but no evidence: each rationale names the observed terms
    ``knowledge`` annotates to the disease itself, and the terms it excludes there.
    """
    observed = set(_current(record.observed, knowledge))
    excluded = set(_current(record.excluded, knowledge)) - observed
    annotated_label = f"Observed phenotypes annotated to this disease (HPO {knowledge.version})"
    entries = []
    for candidate in sorted(record.candidates, key=lambda c: int(c["rank"])):
        disease_id = str(candidate["disease_id"])
        name = knowledge.disease_name(disease_id) if knowledge.has_disease(disease_id) else None
        codes: list[tuple[str, str | None]] = [(disease_id, name)]
        group = knowledge.disease_group(disease_id)
        if group != disease_id and group in knowledge.mondo:
            codes.append((group, _group_label(knowledge, group)))
        try:
            members = knowledge.group_members(disease_id)
        except UnknownDiseaseError:
            members = []
        codes += [(m, knowledge.disease_name(m)) for m in members]
        matched, against = _annotated(knowledge, disease_id, observed, excluded)
        probability = candidate.get("probability")
        entry: dict[str, Any] = {"outcome": _outcome(name or disease_id, codes)}
        if probability is not None:
            entry["probabilityDecimal"] = float(probability)
        entry["rationale"] = _rationale(
            int(candidate["rank"]),
            float(candidate["score"]),
            None if probability is None else float(probability),
            matched,
            against,
            matched_label=annotated_label,
        )
        entries.append(entry)
    notes = [DECISION_SUPPORT_NOTE] + ([] if entries else [NO_CANDIDATE_NOTE])
    if record.knowledge_version != knowledge.version:
        notes.append(
            f"Ranked with HPO {record.knowledge_version}; names and annotations shown here are "
            f"from HPO {knowledge.version}."
        )
    return _assemble(
        resource_id=record.id,
        subject_reference=subject_reference,
        occurrence=record.created_at,
        method=_method(record.predictor, None, record.knowledge_version),
        contained=_phenotypes(record.observed, record.excluded, knowledge),
        predictions=entries,
        notes=notes,
    )


def _annotated(
    knowledge: KnowledgeBase, disease_id: str, observed: set[str], excluded: set[str]
) -> tuple[list[str], list[str]]:
    """(observed terms annotated to the disease, excluded terms annotated to it), as
    ``label (HP:…)`` in the order the annotations list them."""
    try:
        disease = knowledge.disease(disease_id)
    except UnknownDiseaseError:
        return [], []
    matched: list[str] = []
    against: list[str] = []
    seen: set[tuple[str, bool]] = set()
    for phenotype in disease.phenotypes:  # a term may be annotated more than once (onsets)
        if (phenotype.id, phenotype.excluded) in seen:
            continue
        seen.add((phenotype.id, phenotype.excluded))
        label = f"{phenotype.label or phenotype.id} ({phenotype.id})"
        if phenotype.excluded:
            if phenotype.id in observed:
                against.append(f"{label}: observed, but the disease is annotated NOT to have it")
        elif phenotype.id in observed:
            matched.append(label)
        elif phenotype.id in excluded:
            against.append(f"{label}: excluded in the patient, annotated to the disease")
    return matched, against
