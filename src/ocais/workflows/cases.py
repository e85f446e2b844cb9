"""The case use cases: create-and-index, show, list, delete and search, under the access rules.

A case created here is stored without external identifiers: it gets a new random id, no
``external_id``, no finding dates. Free-text notes are stored only after de-identification
(``ocais.ingest.deid`` with the site secret ``OCAIS_DEID_SECRET``); without it they are left out
and the outcome says so. Who may see what: :mod:`ocais.workflows.access`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ocais import __version__
from ocais.errors import AccessDeniedError, ConfigError, InvalidRecordError, OcaisError
from ocais.ingest import ReaderContext
from ocais.ingest.base import check_terms
from ocais.ingest.phenopacket import PhenopacketReader
from ocais.schemas import Case, Diagnosis, Note, PhenotypeObservation, Provenance, Subject
from ocais.search.service import SearchQuery, SearchResult
from ocais.store import CaseFilter
from ocais.workflows.access import Actor, no_such_case
from ocais.workflows.schemas import CaseData, CasePage, CreatedCase
from ocais.workflows.services import Services

#: (note text, patient key) → de-identified text.
NoteScrubber = Callable[[str, str], str]


def default_note_scrubber(secret_env: str = "OCAIS_DEID_SECRET") -> NoteScrubber | None:
    """``ocais.ingest.deid`` with the site secret from ``secret_env`` (settings'
    ``deid_secret_env``), if both are there."""
    try:
        from ocais.ingest.deid import DeidConfig, Deidentifier
    except ImportError:
        return None
    try:
        deidentifier = Deidentifier(DeidConfig.from_env(secret_env))
    except ConfigError:
        return None

    def scrub(text: str, patient_key: str) -> str:
        return str(deidentifier.deidentify(text, patient_key=patient_key).text)

    return scrub


# -- create -----------------------------------------------------------------------------------
def create_case(
    services: Services,
    actor: Actor,
    *,
    data: CaseData | None = None,
    packet: dict[str, Any] | None = None,
    scrubber: NoteScrubber | None = None,
) -> CreatedCase:
    """Store a new case owned by ``actor`` and index it for search at once."""
    case_id = str(uuid.uuid4())
    if packet is not None:
        case, warnings = _from_phenopacket(services, case_id, packet)
    elif data is not None:
        case, warnings = _from_data(services, case_id, data, scrubber)
    else:
        raise InvalidRecordError("give a structured case or a phenopacket", source="request")
    kb = services.knowledge
    unknown = [d.disease_id for d in case.diagnoses if not kb.has_disease(d.disease_id)]
    warnings += [f"{d} is not in the loaded disease annotations; kept as given" for d in unknown]
    repo = services.repo
    with repo.transaction() as session:
        repo.upsert_cases([case], session=session)
        services.owners.add_case_owner(
            case.id, actor.user_id, now=datetime.now(UTC), session=session
        )
    search = services.search_or_none()
    if search is None:
        warnings.append("the case is stored but not searchable (search is not available)")
    else:
        try:
            search.index_cases([case])
        except OcaisError as exc:  # repaired when search is next opened
            services.tell(f"case {case.id} stored but not indexed for search: {exc.code}")
            warnings.append("the case is stored but not yet searchable (index unavailable)")
    return CreatedCase(case=case, warnings=warnings)


def _provenance(services: Services, case_id: str, fmt: str, issues: list[str]) -> Provenance:
    return Provenance(
        source="api",
        source_format=fmt,
        record_id=case_id,
        created_by=f"ocais {__version__}",
        knowledge_version=services.knowledge.version,
        parameters={"issues": issues} if issues else {},
    )


def _from_data(
    services: Services, case_id: str, data: CaseData, scrubber: NoteScrubber | None
) -> tuple[Case, list[str]]:
    checked = check_terms(
        [PhenotypeObservation.model_validate(p.model_dump()) for p in data.phenotypes],
        services.knowledge,
    )
    notes = (
        [Note(text=scrubber(n.text, case_id), kind=n.kind) for n in data.notes]
        if scrubber is not None
        else []
    )
    warnings = list(checked.issues)
    if data.notes and not notes:
        warnings.append(
            "notes were not stored: de-identification is not configured "
            "(set OCAIS_DEID_SECRET); only structured data was kept"
        )
    case = Case(
        id=case_id,
        subject=Subject(sex=data.sex, age_years=data.age_years),
        phenotypes=checked.phenotypes,
        diagnoses=[Diagnosis.model_validate(d.model_dump()) for d in data.diagnoses],
        notes=notes,
        site=services.settings.site,
        cohort=data.cohort,
        provenance=_provenance(services, case_id, "api", checked.issues),
    )
    return case, warnings


def _from_phenopacket(
    services: Services, case_id: str, packet: dict[str, Any]
) -> tuple[Case, list[str]]:
    reader = PhenopacketReader(ReaderContext(site=services.settings.site, terms=services.knowledge))
    parsed = reader.parse_item((json.dumps(packet), "api", None, "request.json"))
    if isinstance(parsed, InvalidRecordError):
        raise parsed
    issues = list(parsed.provenance.parameters.get("issues", []))
    findings = [f.model_copy(update={"date": None, "end_date": None}) for f in parsed.findings]
    case = parsed.model_copy(
        update={
            "id": case_id,
            "external_id": None,  # packet ids may be record numbers: not kept
            "findings": findings,
            "cohort": None,
            "provenance": _provenance(services, case_id, "phenopacket", issues),
        }
    )
    return Case.model_validate(case.model_dump()), issues


def read_phenopacket(services: Services, packet: dict[str, Any]) -> Case:
    """A phenopacket given by a user (not stored): its findings, sex and age, no identifiers."""
    case, _issues = _from_phenopacket(services, "request", packet)
    return case


# -- read -------------------------------------------------------------------------------------
def show_case(services: Services, actor: Actor, case_id: str) -> Case:
    """One stored case; a case ``actor`` may not see is answered as not found."""
    access = services.access
    if not access.allows(actor, case_id, "read"):
        raise no_such_case(case_id)
    return services.repo.get_case(case_id)


def list_cases(
    services: Services, actor: Actor, where: CaseFilter, *, limit: int, offset: int
) -> CasePage:
    """A page of the case summaries ``actor`` may see, oldest first."""
    visible = services.access.visible(actor)
    if visible is not None:
        where = replace(where, case_ids=visible.owned, or_shared=visible.shared)
    repo = services.repo
    return CasePage(
        total=repo.count_matching(where),
        limit=limit,
        offset=offset,
        items=repo.list_matching(where, limit=limit, offset=offset),
    )


# -- delete -----------------------------------------------------------------------------------
def delete_case(services: Services, actor: Actor, case_id: str) -> None:
    """Delete a case and its index entry (admins, or the clinician who created it)."""
    services.access.check(actor, case_id, "delete")
    services.repo.delete_case(case_id)
    search = services.search_or_none()
    if search is not None:
        try:
            search.index.delete(search.collection, [case_id])
        except OcaisError as exc:  # a stale entry is never shown: hits are read from the store
            services.tell(f"case {case_id} deleted but still in the search index: {exc.code}")


def share_cases(services: Services, actor: Actor, case_ids: list[str], shared: bool = True) -> int:
    """Mark cases shared reference cases every clinician may read (or not); admins only.
    Returns how many changed; their index entries are updated at once."""
    if actor.role != "admin":
        raise AccessDeniedError(
            f"the {actor.role} role may not share cases", hint="ask an admin (or the operator)"
        )
    repo = services.repo
    missing = sorted(set(case_ids) - set(repo.case_ids(CaseFilter(case_ids=tuple(case_ids)))))
    if missing:
        raise no_such_case(missing[0])
    changed = repo.set_shared(case_ids, shared)
    search = services.search_or_none()
    if search is not None and changed:
        search.index_cases(repo.get_cases(case_ids))
    return changed


# -- search -----------------------------------------------------------------------------------
def search_cases(services: Services, actor: Actor, query: SearchQuery) -> SearchResult:
    """Search by meaning and filters, over the cases ``actor`` may see only."""
    access = services.access
    if query.like_case and not access.allows(actor, query.like_case, "read"):
        raise no_such_case(query.like_case)
    return services.search().search(query, visible=access.visible(actor))
