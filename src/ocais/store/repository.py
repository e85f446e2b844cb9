"""The case store: a repository over SQLAlchemy 2.

A SQLite file by default, PostgreSQL by URL (see :mod:`ocais.store.engine`). The schema is
created and upgraded by the packaged Alembic migrations when the store is opened. Writes are
idempotent on ``Case.source_key``: importing the same source record twice leaves one case,
updated only if its clinical content (``Case.content_hash``) changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from ocais.errors import InvalidRecordError, NotFoundError, StoreError
from ocais.schemas import Case
from ocais.store import migrate as migrations
from ocais.store import queries
from ocais.store.engine import WRITE_OPTION, connect
from ocais.store.models import (
    CHILD_TABLES,
    RUN_STATUSES,
    cases_table,
    ingest_runs_table,
)
from ocais.store.results import CaseSummary, IngestRunInfo, StoreStats, UpsertCounts
from ocais.store.rows import ChildRows, Row, case_row, reject_dict


def _run_dict(row: Any) -> IngestRunInfo:
    return IngestRunInfo.model_validate(dict(row._mapping))


class Repository:
    """Stores cases and ingest runs. Build it with :meth:`open`; close it (or use ``with``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})

    # -- lifecycle -----------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, echo: bool = False) -> Repository:
        """Connect to the store at ``url`` and (by default) upgrade its schema to the newest.

        A SQLite file's parent directory is created. Raises :class:`StoreError` (with a hint)
        if the URL is invalid, the database cannot be reached, or the migration fails.
        """
        engine = connect(url, echo=echo)
        repo = cls(engine)
        if migrate:
            try:
                repo.migrate()
            except BaseException:
                engine.dispose()
                raise
        return repo

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tools and tests; prefer the repository methods)."""
        return self._engine

    @property
    def url(self) -> str:
        """The store URL with any password masked."""
        return self._engine.url.render_as_string(hide_password=True)

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` (default: the newest shipped)."""
        try:
            migrations.upgrade(self._engine, revision)
        except Exception as exc:
            raise StoreError(
                f"cannot migrate the store at {self.url} to {revision}: {exc}",
                hint="a store written by a newer OCAIS needs that version; otherwise check "
                "that the database user may create tables",
            ) from exc

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (``None`` if never migrated)."""
        with self._engine.connect() as conn:
            return migrations.current_revision(conn)

    def close(self) -> None:
        """Release all connections. The repository must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Repository:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writing cases -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write transaction: committed on exit, rolled back (nothing written) on error.

        Pass the session to :meth:`upsert_cases` to make several batches all-or-nothing.
        Database errors are raised as :class:`StoreError`.
        """
        with Session(self._write_engine, expire_on_commit=False) as session:
            try:
                with session.begin():
                    yield session
            except SQLAlchemyError as exc:
                raise self._write_error(exc) from exc

    def _write_error(self, exc: SQLAlchemyError) -> StoreError:
        if isinstance(exc, IntegrityError):
            return StoreError(
                f"write rejected by the store at {self.url}: {exc.orig}",
                hint="a case id may already belong to another source record",
            )
        return StoreError(f"cannot write to the store at {self.url}: {exc}")

    def upsert_cases(
        self,
        cases: Sequence[Case],
        *,
        run_id: str | None = None,
        session: Session | None = None,
    ) -> UpsertCounts:
        """Insert new cases and update changed ones, keyed on ``Case.source_key``.

        A case whose ``content_hash`` equals the stored one is left untouched (``unchanged``);
        a changed case gets its row and all child rows replaced (``updated``). A key repeated
        within ``cases`` counts as if the cases came one after the other. Runs in one
        transaction, or in ``session``'s (see :meth:`transaction`) without committing it.
        """
        if session is None:
            with self.transaction() as own:
                return self._upsert(own, cases, run_id)
        try:
            return self._upsert(session, cases, run_id)
        except SQLAlchemyError as exc:
            raise self._write_error(exc) from exc

    def _upsert(self, session: Session, cases: Sequence[Case], run_id: str | None) -> UpsertCounts:
        if not cases:
            return UpsertCounts()
        now = datetime.now(UTC)
        c = cases_table.c
        keys = list(dict.fromkeys(case.source_key for case in cases))
        stored: dict[str, tuple[str, str]] = {}
        for part in queries.chunks(keys):
            query = select(c.source_key, c.id, c.content_hash).where(c.source_key.in_(part))
            for key, case_id, content_hash in session.execute(query):
                stored[key] = (case_id, content_hash)

        inserts: dict[str, tuple[Case, Row]] = {}
        updates: dict[str, tuple[Case, Row]] = {}
        counts = UpsertCounts()
        for case in cases:
            key = case.source_key
            content_hash = case.content_hash()
            pending = inserts if key in inserts else updates if key in updates else None
            if pending is not None:  # repeated within the batch: compare with the pending one
                if pending[key][1]["content_hash"] == content_hash:
                    counts.unchanged += 1
                else:
                    pending[key] = (case, case_row(case, content_hash, now=now, run_id=run_id))
                    counts.updated += 1
            elif key not in stored:
                inserts[key] = (case, case_row(case, content_hash, now=now, run_id=run_id))
                counts.inserted += 1
            elif stored[key][1] == content_hash:
                counts.unchanged += 1
            else:
                updates[key] = (case, case_row(case, content_hash, now=now, run_id=run_id))
                counts.updated += 1

        children = ChildRows()
        if updates:
            old_ids = [stored[key][0] for key in updates]
            for table in CHILD_TABLES:
                for part in queries.chunks(old_ids):
                    session.execute(delete(table).where(table.c.case_id.in_(part)))
            params = []
            for key, (case, row) in updates.items():
                row = {k: v for k, v in row.items() if k not in ("created_at", "source_key")}
                row["b_source_key"] = key
                params.append(row)
                children.add(case)
            stmt = update(cases_table).where(c.source_key == bindparam("b_source_key"))
            session.execute(stmt, params)
        if inserts:
            session.execute(insert(cases_table), [row for _, row in inserts.values()])
            for case, _ in inserts.values():
                children.add(case)
        for name, rows in children.by_table().items():
            if rows:
                session.execute(insert(cases_table.metadata.tables[name]), rows)
        return counts

    def delete_case(self, case_id: str) -> None:
        """Delete a case and (by cascade) its observations, diagnoses, findings, documents."""
        with self.transaction() as session:
            result = session.execute(delete(cases_table).where(cases_table.c.id == case_id))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise self._no_case(case_id)

    # -- reading cases -------------------------------------------------------------------------

    @staticmethod
    def _no_case(case_id: str) -> NotFoundError:
        return NotFoundError(
            f"no case with id {case_id!r}", hint="check the id; list_cases shows the stored cases"
        )

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A read connection; database errors become :class:`StoreError`."""
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read from the store at {self.url}: {exc}") from exc

    def get_case(self, case_id: str) -> Case:
        """The stored case, exactly as it was written. Raises :class:`NotFoundError`."""
        with self._reading() as conn:
            payload = conn.execute(
                select(cases_table.c.payload).where(cases_table.c.id == case_id)
            ).scalar_one_or_none()
        if payload is None:
            raise self._no_case(case_id)
        try:
            return Case.model_validate(payload)
        except ValidationError as exc:
            raise StoreError(
                f"stored case {case_id!r} does not validate: {exc}",
                hint="re-import it from its source",
            ) from exc

    def get_cases(self, case_ids: Sequence[str]) -> list[Case]:
        """Several stored cases, in the order asked; ids that do not exist are left out."""
        found: dict[str, Case] = {}
        with self._reading() as conn:
            for part in queries.chunks(list(case_ids)):
                rows = conn.execute(
                    select(cases_table.c.id, cases_table.c.payload).where(
                        cases_table.c.id.in_(part)
                    )
                )
                for case_id, payload in rows:
                    found[case_id] = Case.model_validate(payload)
        return [found[i] for i in case_ids if i in found]

    def iter_cases(self, batch_size: int = 500) -> Iterator[list[Case]]:
        """Every stored case, in batches (oldest first)."""
        ids = self.case_ids(queries.CaseFilter())
        for part in queries.chunks(ids, batch_size):
            yield self.get_cases(part)

    def case_ids(self, where: queries.CaseFilter, limit: int | None = None) -> list[str]:
        """Ids of the cases matching a :class:`~ocais.store.queries.CaseFilter`."""
        with self._reading() as conn:
            return queries.case_ids(conn, where, limit)

    def count_matching(self, where: queries.CaseFilter) -> int:
        """Number of cases matching a :class:`~ocais.store.queries.CaseFilter`."""
        with self._reading() as conn:
            return queries.count_cases(conn, where)

    def list_cases(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        source_format: str | None = None,
        site: str | None = None,
        cohort: str | None = None,
        synthetic: bool | None = None,
        disease_id: str | None = None,
        hpo_id: str | None = None,
    ) -> list[CaseSummary]:
        """A page of case summaries, oldest first, filtered (all filters ANDed).

        ``disease_id`` matches confirmed or provisional diagnoses; ``hpo_id`` matches terms
        observed (not excluded) in the case.
        """
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        where = queries.CaseFilter(source_format, site, cohort, synthetic, disease_id, hpo_id)
        with self._reading() as conn:
            return queries.list_cases(conn, where, limit, offset)

    def count_cases(
        self,
        *,
        source_format: str | None = None,
        site: str | None = None,
        cohort: str | None = None,
        synthetic: bool | None = None,
        disease_id: str | None = None,
        hpo_id: str | None = None,
    ) -> int:
        """Number of cases matching the filters of :meth:`list_cases`."""
        return self.count_matching(
            queries.CaseFilter(source_format, site, cohort, synthetic, disease_id, hpo_id)
        )

    def list_matching(
        self, where: queries.CaseFilter, *, limit: int = 50, offset: int = 0
    ) -> list[CaseSummary]:
        """A page of the case summaries matching ``where``, oldest first."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        with self._reading() as conn:
            return queries.list_cases(conn, where, limit, offset)

    def set_shared(self, case_ids: Sequence[str], shared: bool = True) -> int:
        """Mark cases shared reference cases (or not); returns how many changed."""
        changed = 0
        with self.transaction() as session:
            for part in queries.chunks(list(case_ids)):
                stmt = (
                    update(cases_table)
                    .where(cases_table.c.id.in_(part), cases_table.c.shared.is_not(shared))
                    .values(shared=shared)
                )
                changed += session.execute(stmt).rowcount  # type: ignore[attr-defined]
        return changed

    def shared_ids(self, case_ids: Sequence[str]) -> set[str]:
        """Which of ``case_ids`` are shared reference cases."""
        found: set[str] = set()
        with self._reading() as conn:
            for part in queries.chunks(list(case_ids)):
                stmt = select(cases_table.c.id).where(
                    cases_table.c.id.in_(part), cases_table.c.shared.is_(True)
                )
                found.update(str(i) for i in conn.execute(stmt).scalars())
        return found

    def stats(self) -> StoreStats:
        """Counts over the whole store (cases, observations, diagnoses, findings, runs)."""
        with self._reading() as conn:
            return queries.stats(conn, self.url)

    # -- ingest runs ---------------------------------------------------------------------------

    def start_run(self, source: str, source_format: str, settings: Mapping[str, Any]) -> str:
        """Record the start of an import (status ``running``); returns the run id."""
        run_id = str(uuid.uuid4())
        values = {
            "id": run_id,
            "source": source,
            "source_format": source_format,
            "started_at": datetime.now(UTC),
            "finished_at": None,
            "status": "running",
            "n_read": 0,
            "n_inserted": 0,
            "n_updated": 0,
            "n_unchanged": 0,
            "n_rejected": 0,
            "rejects": [],
            "settings": dict(settings),
        }
        with self.transaction() as session:
            session.execute(insert(ingest_runs_table).values(values))
        return run_id

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        n_read: int = 0,
        n_inserted: int = 0,
        n_updated: int = 0,
        n_unchanged: int = 0,
        n_rejected: int | None = None,
        rejects: Sequence[Mapping[str, Any] | InvalidRecordError] = (),
    ) -> None:
        """Record the end of an import: status, counts and rejects.

        ``status`` is one of completed, aborted, failed, interrupted (or running);
        ``n_rejected`` defaults to ``len(rejects)``. Rejects are stored as
        ``{source, record, field, message}``.
        """
        if status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {', '.join(RUN_STATUSES)}, not {status!r}")
        stored_rejects = [reject_dict(r) for r in rejects]
        values = {
            "status": status,
            "finished_at": None if status == "running" else datetime.now(UTC),
            "n_read": n_read,
            "n_inserted": n_inserted,
            "n_updated": n_updated,
            "n_unchanged": n_unchanged,
            "n_rejected": len(stored_rejects) if n_rejected is None else n_rejected,
            "rejects": stored_rejects,
        }
        with self.transaction() as session:
            stmt = update(ingest_runs_table).where(ingest_runs_table.c.id == run_id)
            if session.execute(stmt.values(values)).rowcount == 0:  # type: ignore[attr-defined]
                raise self._no_run(run_id)

    @staticmethod
    def _no_run(run_id: str) -> NotFoundError:
        return NotFoundError(
            f"no ingest run with id {run_id!r}",
            hint="check the id; list_runs shows the recent runs",
        )

    def get_run(self, run_id: str) -> IngestRunInfo:
        """One ingest run. Raises :class:`NotFoundError`."""
        with self._reading() as conn:
            row = conn.execute(
                select(ingest_runs_table).where(ingest_runs_table.c.id == run_id)
            ).one_or_none()
        if row is None:
            raise self._no_run(run_id)
        return _run_dict(row)

    def runs_with_status(self, *statuses: str) -> list[IngestRunInfo]:
        """Every run in one of ``statuses``, oldest first (recovery looks at few rows)."""
        t = ingest_runs_table
        stmt = select(t).where(t.c.status.in_(statuses)).order_by(t.c.started_at, t.c.id)
        with self._reading() as conn:
            return [_run_dict(row) for row in conn.execute(stmt)]

    def update_run(
        self, run_id: str, *, status: str | None = None, settings: Mapping[str, Any] | None = None
    ) -> None:
        """Change a run's status and/or merge keys into its settings (counts are kept)."""
        if status is not None and status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {', '.join(RUN_STATUSES)}, not {status!r}")
        with self.transaction() as session:
            t = ingest_runs_table
            row = session.execute(select(t.c.settings).where(t.c.id == run_id)).one_or_none()
            if row is None:
                raise self._no_run(run_id)
            values: dict[str, Any] = {}
            if settings is not None:
                values["settings"] = {**(row.settings or {}), **settings}
            if status is not None:
                values["status"] = status
                if status != "running":
                    values["finished_at"] = datetime.now(UTC)
            if values:
                session.execute(update(t).where(t.c.id == run_id).values(values))

    def list_runs(self, limit: int = 20) -> list[IngestRunInfo]:
        """The most recent ingest runs, newest first."""
        t = ingest_runs_table
        stmt = select(t).order_by(t.c.started_at.desc(), t.c.id).limit(limit)
        with self._reading() as conn:
            return [_run_dict(row) for row in conn.execute(stmt)]
