"""Tables of the case store (SQLAlchemy 2 declarative, typed).

``cases`` holds one row per patient with the full :class:`~ocais.schemas.Case` as JSON
(``payload``, the source of truth for :meth:`Repository.get_case`) plus the columns that filters
and statistics need. The child tables (``observations``, ``diagnoses``, ``findings``,
``documents``) are derived from the payload for querying; they are replaced whenever the case
content changes and removed with the case (``ON DELETE CASCADE``).

The schema is owned by the Alembic migrations in :mod:`ocais.store.migrations`: change a model,
then add a revision (and keep ``tests/store`` checking that migrations and models agree).
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

RUN_STATUSES = ("running", "completed", "aborted", "failed", "interrupted")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: 64-bit row ids on PostgreSQL; SQLite needs exactly INTEGER for its rowid alias.
RowId: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

#: JSON on SQLite (stored as text), JSONB on PostgreSQL.
JsonType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC; SQLite's naive values are read back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IngestRun(Base):
    """One import of one source: what was read, written and rejected."""

    __tablename__ = "ingest_runs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('running', 'completed', 'aborted', 'failed', 'interrupted')",
            name="status",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    source_format: Mapped[str] = mapped_column(String())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), index=True)
    n_read: Mapped[int] = mapped_column(Integer, default=0)
    n_inserted: Mapped[int] = mapped_column(Integer, default=0)
    n_updated: Mapped[int] = mapped_column(Integer, default=0)
    n_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    n_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rejects: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    settings: Mapped[dict[str, Any]] = mapped_column(JsonType)


class CaseRow(Base):
    """One patient case; ``payload`` is the full ``Case.model_dump(mode="json")``."""

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(), primary_key=True)
    source_key: Mapped[str] = mapped_column(Text, unique=True)
    external_id: Mapped[str | None] = mapped_column(Text, index=True)
    source_format: Mapped[str] = mapped_column(String(), index=True)
    source: Mapped[str] = mapped_column(Text)
    site: Mapped[str] = mapped_column(String(), index=True)
    cohort: Mapped[str | None] = mapped_column(String(), index=True)
    synthetic: Mapped[bool] = mapped_column(Boolean, index=True)
    #: a reference case every clinician may read (a published case report, a released synthetic
    #: set), set by the operator at import (``ocais ingest --shared``); not clinical content
    shared: Mapped[bool] = mapped_column(Boolean, index=True, default=False, server_default=false())
    sex: Mapped[str] = mapped_column(String(16), index=True)
    age_years: Mapped[float | None] = mapped_column(Float)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    knowledge_version: Mapped[str | None] = mapped_column(String())
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ingest_run_id: Mapped[str | None] = mapped_column(
        ForeignKey("ingest_runs.id", ondelete="SET NULL"), index=True
    )


class ObservationRow(Base):
    """One HPO term observed in (or excluded from) a case."""

    __tablename__ = "observations"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    hpo_id: Mapped[str] = mapped_column(String(10), index=True)
    excluded: Mapped[bool] = mapped_column(Boolean)
    onset_age_years: Mapped[float | None] = mapped_column(Float)


class DiagnosisRow(Base):
    """One diagnosis of a case (confirmed, provisional or excluded)."""

    __tablename__ = "diagnoses"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    disease_id: Mapped[str] = mapped_column(String(), index=True)
    label: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))


class FindingRow(Base):
    """One coded EHR finding of a case (condition, lab value, medication, ...)."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    system: Mapped[str] = mapped_column(String())
    code: Mapped[str] = mapped_column(String(), index=True)
    display: Mapped[str | None] = mapped_column(Text)
    value_num: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String())
    date: Mapped[dt.date | None] = mapped_column(Date)


class DocumentRow(Base):
    """One free-text document (note) of a case."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String())
    text: Mapped[str] = mapped_column(Text)
    date: Mapped[dt.date | None] = mapped_column(Date)


cases_table: Table = Base.metadata.tables["cases"]
observations_table: Table = Base.metadata.tables["observations"]
diagnoses_table: Table = Base.metadata.tables["diagnoses"]
findings_table: Table = Base.metadata.tables["findings"]
documents_table: Table = Base.metadata.tables["documents"]
ingest_runs_table: Table = Base.metadata.tables["ingest_runs"]

#: Tables derived from a case's payload, replaced together when its content changes.
CHILD_TABLES: tuple[Table, ...] = (
    observations_table,
    diagnoses_table,
    findings_table,
    documents_table,
)
