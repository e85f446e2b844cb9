"""Read-side queries of the repository: case filters, listings and statistics."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, case, exists, func, or_, select

from ocais.store.models import (
    cases_table,
    diagnoses_table,
    documents_table,
    findings_table,
    ingest_runs_table,
    observations_table,
)
from ocais.store.results import CaseSummary, StoreStats

IN_CHUNK = 500  # ids per IN (...) list: well under SQLite's bound-parameter limit

C = cases_table.c
O = observations_table.c  # noqa: E741
D = diagnoses_table.c


@dataclass(frozen=True)
class CaseFilter:
    """Filters of :meth:`Repository.list_cases` / :meth:`Repository.count_cases` (all ANDed).

    ``disease_id`` matches diagnoses that are not ``excluded``; ``hpo_id`` matches terms observed
    (not excluded) in the case.
    """

    source_format: str | None = None
    site: str | None = None
    cohort: str | None = None
    synthetic: bool | None = None
    disease_id: str | None = None
    hpo_id: str | None = None
    sex: str | None = None
    age_min: float | None = None
    age_max: float | None = None
    disease_ids: tuple[str, ...] = ()
    observed_any: tuple[tuple[str, ...], ...] = ()
    excluded_any: tuple[tuple[str, ...], ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    ingest_run_id: str | None = None
    #: only these case ids (an access rule's visible set); ``None``: no restriction
    case_ids: tuple[str, ...] | None = None
    #: with ``case_ids``: also every shared case (``case_ids`` OR shared)
    or_shared: bool = False
    shared: bool | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        """SQL conditions. ``observed_any`` / ``excluded_any``: each inner tuple is one
        requirement met by observing (resp. excluding) any of its ids — callers pass a term
        with its descendants; ``disease_ids``: any of them is a (non-excluded) diagnosis."""
        where: list[ColumnElement[bool]] = []
        if self.sex is not None:
            where.append(C.sex == self.sex)
        if self.age_min is not None:
            where.append(C.age_years >= self.age_min)
        if self.age_max is not None:
            where.append(C.age_years <= self.age_max)
        if self.ingest_run_id is not None:
            where.append(C.ingest_run_id == self.ingest_run_id)
        if self.case_ids is not None:
            mine = C.id.in_(self.case_ids)
            where.append(or_(mine, C.shared.is_(True)) if self.or_shared else mine)
        if self.shared is not None:
            where.append(C.shared.is_(self.shared))
        if self.created_from is not None:
            where.append(C.created_at >= self.created_from)
        if self.created_to is not None:
            where.append(C.created_at <= self.created_to)
        if self.disease_ids:
            where.append(
                exists().where(
                    and_(
                        D.case_id == C.id,
                        D.disease_id.in_(self.disease_ids),
                        D.status != "excluded",
                    )
                )
            )
        for flag, requirements in ((False, self.observed_any), (True, self.excluded_any)):
            for ids in requirements:
                where.append(
                    exists().where(and_(O.case_id == C.id, O.hpo_id.in_(ids), O.excluded.is_(flag)))
                )
        if self.source_format is not None:
            where.append(C.source_format == self.source_format)
        if self.site is not None:
            where.append(C.site == self.site)
        if self.cohort is not None:
            where.append(C.cohort == self.cohort)
        if self.synthetic is not None:
            where.append(C.synthetic.is_(self.synthetic))
        if self.disease_id is not None:
            where.append(
                exists().where(
                    and_(
                        D.case_id == C.id,
                        D.disease_id == self.disease_id,
                        D.status != "excluded",
                    )
                )
            )
        if self.hpo_id is not None:
            where.append(
                exists().where(
                    and_(O.case_id == C.id, O.hpo_id == self.hpo_id, O.excluded.is_(False))
                )
            )
        return where


def chunks(items: list[Any], size: int = IN_CHUNK) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def case_ids(conn: Connection, where: CaseFilter, limit: int | None = None) -> list[str]:
    """Ids of the matching cases, oldest first."""
    stmt = select(C.id).where(*where.clauses()).order_by(C.created_at, C.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [str(row) for row in conn.execute(stmt).scalars()]


def count_cases(conn: Connection, where: CaseFilter) -> int:
    stmt = select(func.count()).select_from(cases_table).where(*where.clauses())
    return int(conn.execute(stmt).scalar_one())


def list_cases(conn: Connection, where: CaseFilter, limit: int, offset: int) -> list[CaseSummary]:
    """A page of cases, oldest first, with observation counts and diagnoses (3 queries)."""
    stmt: Select[Any] = (
        select(C.id, C.external_id, C.source_format, C.site, C.sex, C.age_years, C.synthetic)
        .where(*where.clauses())
        .order_by(C.created_at, C.id)
        .limit(limit)
        .offset(offset)
    )
    page = conn.execute(stmt).all()
    ids = [r.id for r in page]
    observed: dict[str, int] = defaultdict(int)
    excluded: dict[str, int] = defaultdict(int)
    diagnoses: dict[str, list[str]] = defaultdict(list)
    for part in chunks(ids):
        counts = select(O.case_id, O.excluded, func.count()).where(O.case_id.in_(part))
        for case_id, is_excluded, n in conn.execute(counts.group_by(O.case_id, O.excluded)):
            (excluded if is_excluded else observed)[case_id] = int(n)
        dx = (
            select(D.case_id, D.disease_id)
            .where(D.case_id.in_(part), D.status != "excluded")
            .order_by(D.case_id, D.id)
        )
        for case_id, disease_id in conn.execute(dx):
            diagnoses[case_id].append(disease_id)
    return [
        CaseSummary(
            id=r.id,
            external_id=r.external_id,
            source_format=r.source_format,
            site=r.site,
            sex=r.sex,
            age_years=r.age_years,
            n_observed=observed[r.id],
            n_excluded=excluded[r.id],
            diagnoses=diagnoses[r.id],
            synthetic=bool(r.synthetic),
        )
        for r in page
    ]


def _grouped(conn: Connection, column: ColumnElement[Any]) -> dict[str, int]:
    rows = conn.execute(select(column, func.count()).group_by(column).order_by(column))
    return {str(key): int(n) for key, n in rows}


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def stats(conn: Connection, url: str) -> StoreStats:
    """Counts over the whole store, in one read transaction."""
    n_cases, n_synthetic = conn.execute(
        select(func.count(), _count_if(C.synthetic.is_(True))).select_from(cases_table)
    ).one()
    n_observed, n_excluded = conn.execute(
        select(_count_if(O.excluded.is_(False)), _count_if(O.excluded.is_(True)))
    ).one()
    distinct_hpo = conn.execute(
        select(func.count(O.hpo_id.distinct())).where(O.excluded.is_(False))
    ).scalar_one()
    n_diagnoses, distinct_diseases = conn.execute(
        select(func.count(), func.count(D.disease_id.distinct())).select_from(diagnoses_table)
    ).one()
    n_documents = conn.execute(select(func.count()).select_from(documents_table)).scalar_one()
    n_runs = conn.execute(select(func.count()).select_from(ingest_runs_table)).scalar_one()
    return StoreStats(
        url=url,
        cases=int(n_cases),
        cases_by_source_format=_grouped(conn, C.source_format),
        cases_by_site=_grouped(conn, C.site),
        synthetic_cases=int(n_synthetic),
        observations_observed=int(n_observed),
        observations_excluded=int(n_excluded),
        distinct_observed_hpo_ids=int(distinct_hpo),
        diagnoses=int(n_diagnoses),
        distinct_disease_ids=int(distinct_diseases),
        findings_by_category=_grouped(conn, findings_table.c.category),
        documents=int(n_documents),
        ingest_runs=int(n_runs),
    )
