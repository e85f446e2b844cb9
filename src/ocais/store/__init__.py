"""The case store: cases, observations, diagnoses, findings, documents and ingest runs.

SQLite file by default, PostgreSQL by URL; schema managed by packaged Alembic migrations.
"""

from ocais.store import service_models as _service_models  # noqa: F401  (tables on metadata)
from ocais.store.queries import CaseFilter
from ocais.store.repository import Repository
from ocais.store.results import CaseSummary, IngestRunInfo, StoreStats, UpsertCounts

__all__ = ["CaseFilter", "CaseSummary", "IngestRunInfo", "Repository", "StoreStats", "UpsertCounts"]
