"""Cases created, listed, shown and deleted through the API, with ownership and de-identification.

A case created through the API is stored without external identifiers: it gets a new random id,
no ``external_id``, no finding dates. Free-text notes are stored only after de-identification
(``ocais.ingest.deid`` with the site secret ``OCAIS_DEID_SECRET``); without it they are left out
and the response says so. Clinicians see and delete the cases they created; researchers read all
cases; admins do everything.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ocais import __version__
from ocais.errors import ConfigError, InvalidRecordError, OcaisError
from ocais.ingest import ReaderContext
from ocais.ingest.base import check_terms
from ocais.ingest.phenopacket import PhenopacketReader
from ocais.knowledge import KnowledgeBase
from ocais.schemas import Case, Diagnosis, Note, PhenotypeObservation, Provenance, Subject
from ocais.serve.accounts import Principal
from ocais.serve.errors import ApiError
from ocais.serve.schemas.cases import CaseData, CasePage
from ocais.store import CaseFilter, CaseSummary, Repository
from ocais.store.service_repo import ServiceRepository

logger = logging.getLogger("ocais.serve")

#: (note text, patient key) → de-identified text.
NoteScrubber = Callable[[str, str], str]


class CaseIndex(Protocol):
    """Keeps the search index in step with the store (``SearchService`` adapter)."""

    def index_cases(self, cases: list[Case]) -> int: ...

    def remove_cases(self, case_ids: list[str]) -> int: ...


def default_note_scrubber() -> NoteScrubber | None:
    """``ocais.ingest.deid`` with the secret from ``OCAIS_DEID_SECRET``, if both are there."""
    try:
        from ocais.ingest.deid import DeidConfig, Deidentifier
    except ImportError:
        return None
    try:
        deidentifier = Deidentifier(DeidConfig.from_env())
    except ConfigError:
        return None

    def scrub(text: str, patient_key: str) -> str:
        return str(deidentifier.deidentify(text, patient_key=patient_key).text)

    return scrub


@dataclass(frozen=True)
class CreatedCase:
    case: Case
    warnings: list[str]


class CaseService:
    def __init__(
        self,
        repo: Repository,
        store: ServiceRepository,
        knowledge: KnowledgeBase,
        *,
        site: str,
        scrubber: NoteScrubber | None,
        index: CaseIndex | None = None,
    ) -> None:
        self.repo, self.store, self.kb = repo, store, knowledge
        self.site = site
        self.scrubber = scrubber
        self.index = index

    # -- create --------------------------------------------------------------------------------
    def create(
        self, principal: Principal, *, data: CaseData | None, packet: dict[str, Any] | None
    ) -> CreatedCase:
        case_id = str(uuid.uuid4())
        if packet is not None:
            case, warnings = self._from_phenopacket(case_id, packet)
        elif data is not None:
            case, warnings = self._from_data(case_id, data)
        else:  # pragma: no cover - the request schema requires one
            raise InvalidRecordError("no case given", source="request")
        unknown = [d.disease_id for d in case.diagnoses if not self.kb.has_disease(d.disease_id)]
        warnings += [
            f"{d} is not in the loaded disease annotations; kept as given" for d in unknown
        ]
        with self.repo.transaction() as session:
            self.repo.upsert_cases([case], session=session)
            self.store.add_case_owner(
                case.id, principal.user_id, now=datetime.now(UTC), session=session
            )
        if self.index is not None:
            try:
                self.index.index_cases([case])
            except OcaisError as exc:
                logger.warning("case %s stored but not indexed for search: %s", case.id, exc.code)
                warnings.append("the case is stored but not yet searchable (index unavailable)")
        return CreatedCase(case, warnings)

    def _provenance(self, case_id: str, source_format: str, issues: list[str]) -> Provenance:
        return Provenance(
            source="api",
            source_format=source_format,
            record_id=case_id,
            created_by=f"ocais {__version__}",
            knowledge_version=self.kb.version,
            parameters={"issues": issues} if issues else {},
        )

    def _from_data(self, case_id: str, data: CaseData) -> tuple[Case, list[str]]:
        checked = check_terms(
            [PhenotypeObservation.model_validate(p.model_dump()) for p in data.phenotypes],
            self.kb,
        )
        notes, warnings = self._notes(case_id, data), list(checked.issues)
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
            site=self.site,
            cohort=data.cohort,
            provenance=self._provenance(case_id, "api", checked.issues),
        )
        return case, warnings

    def _notes(self, case_id: str, data: CaseData) -> list[Note]:
        if self.scrubber is None:
            return []
        return [Note(text=self.scrubber(n.text, case_id), kind=n.kind) for n in data.notes]

    def _from_phenopacket(self, case_id: str, packet: dict[str, Any]) -> tuple[Case, list[str]]:
        reader = PhenopacketReader(ReaderContext(site=self.site, terms=self.kb))
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
                "provenance": self._provenance(case_id, "phenopacket", issues),
            }
        )
        return Case.model_validate(case.model_dump()), issues

    # -- read ----------------------------------------------------------------------------------
    def get(self, principal: Principal, case_id: str) -> Case:
        case = self.repo.get_case(case_id)  # NotFoundError → 404 first: no owner check needed
        self._check_access(principal, case_id, "read")
        return case

    def list_cases(
        self, principal: Principal, where: CaseFilter, limit: int, offset: int
    ) -> CasePage:
        if principal.has_role("researcher", "admin"):
            items = self.repo.list_cases(
                limit=limit,
                offset=offset,
                source_format=where.source_format,
                site=where.site,
                cohort=where.cohort,
                synthetic=where.synthetic,
                disease_id=where.disease_id,
                hpo_id=where.hpo_id,
            )
            return CasePage(
                total=self.repo.count_matching(where), limit=limit, offset=offset, items=items
            )
        total_owned = self.store.count_owned_cases(principal.user_id)
        owned = self.store.owned_case_ids(principal.user_id, limit=total_owned, offset=0)
        if where.clauses():
            matching = set(self.repo.case_ids(where))
            owned = [i for i in owned if i in matching]
        page = self.repo.get_cases(owned[offset : offset + limit])
        return CasePage(
            total=len(owned), limit=limit, offset=offset, items=[_summary(c) for c in page]
        )

    # -- delete --------------------------------------------------------------------------------
    def delete(self, principal: Principal, case_id: str) -> None:
        self.repo.get_case(case_id)
        self._check_access(principal, case_id, "delete")
        self.repo.delete_case(case_id)
        if self.index is not None:
            try:
                self.index.remove_cases([case_id])
            except OcaisError as exc:
                logger.warning("case %s deleted but still indexed: %s", case_id, exc.code)

    def _check_access(self, principal: Principal, case_id: str, what: str) -> None:
        if principal.has_role("admin") or (what == "read" and principal.has_role("researcher")):
            return
        if principal.has_role("clinician") and self.store.case_owner(case_id) == principal.user_id:
            return
        raise ApiError(
            403,
            "forbidden",
            f"you may not {what} this case",
            hint="clinicians see and delete the cases they created; admins manage all cases",
        )


def _summary(case: Case) -> CaseSummary:
    return CaseSummary(
        id=case.id,
        external_id=case.external_id,
        source_format=case.provenance.source_format,
        site=case.site,
        sex=case.subject.sex.value,
        age_years=case.subject.age_years,
        n_observed=len(case.observed),
        n_excluded=len(case.excluded),
        diagnoses=[d.disease_id for d in case.diagnoses if d.status != "excluded"],
        synthetic=case.synthetic,
    )
