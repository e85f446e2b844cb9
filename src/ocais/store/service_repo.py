"""Queries of the web service's tables (see :mod:`ocais.store.service_models`).

The only place that builds SQL for accounts, sessions, predictions, feedback and the audit log.
Writes run in write transactions (``BEGIN IMMEDIATE`` on SQLite, so concurrent writers queue
instead of failing); a method that takes ``session`` joins that transaction (e.g. one opened by
:meth:`Repository.transaction` to store a case and its owner together) without committing it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from ocais.errors import InvalidRecordError, NotFoundError, StoreError
from ocais.store.engine import WRITE_OPTION
from ocais.store.service_models import (
    ROLES,
    ApiKeyRecord,
    AuditRecord,
    FeedbackRecord,
    PredictionRecord,
    SessionRecord,
    UserRecord,
    api_keys_table,
    audit_table,
    case_owners_table,
    feedback_table,
    predictions_table,
    server_secrets_table,
    sessions_table,
    users_table,
)

U = users_table.c
K = api_keys_table.c
S = sessions_table.c
F = feedback_table.c
P = predictions_table.c
A = audit_table.c
CO = case_owners_table.c
SS = server_secrets_table.c


def _user(row: Any, n_keys: int = 0) -> UserRecord:
    return UserRecord(
        id=row.id,
        name=row.name,
        role=row.role,
        active=bool(row.active),
        created_at=row.created_at,
        disabled_at=row.disabled_at,
        has_password=row.password_hash is not None,
        n_keys=n_keys,
    )


class ServiceRepository:
    """Accounts, sessions, predictions, feedback and audit entries in the store's database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})

    # -- plumbing ------------------------------------------------------------------------------
    @contextmanager
    def _write(self, session: Session | None = None) -> Iterator[Session | Connection]:
        """The caller's session, or a new write transaction (committed on exit)."""
        if session is not None:
            try:
                yield session
            except SQLAlchemyError as exc:
                raise _store_error(exc) from exc
            return
        try:
            with self._write_engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise _store_error(exc) from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the service tables: {exc.__class__.__name__}") from exc

    # -- users ---------------------------------------------------------------------------------
    def count_users(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(users_table)).scalar_one())

    def create_user(
        self, name: str, role: str, *, password_hash: str | None, now: datetime
    ) -> UserRecord:
        """A new active user. Raises :class:`InvalidRecordError` if the name is taken."""
        if role not in ROLES:
            raise InvalidRecordError(
                f"unknown role {role!r}", source="users", field="role", hint=", ".join(ROLES)
            )
        values = {
            "id": str(uuid.uuid4()),
            "name": name,
            "role": role,
            "password_hash": password_hash,
            "active": True,
            "created_at": now,
            "disabled_at": None,
        }
        with self._write() as session:
            if session.execute(select(U.id).where(U.name == name)).first() is not None:
                raise _name_taken(name)
            session.execute(insert(users_table).values(values))
        return self.get_user_by_name(name)

    def get_user(self, user_id: str) -> UserRecord | None:
        with self._read() as conn:
            row = conn.execute(select(users_table).where(U.id == user_id)).first()
        return None if row is None else _user(row)

    def get_user_by_name(self, name: str) -> UserRecord:
        """Raises :class:`NotFoundError` if there is no such user."""
        with self._read() as conn:
            row = conn.execute(select(users_table).where(U.name == name)).first()
        if row is None:
            raise NotFoundError(f"no user named {name!r}", hint="`ocais users list` shows them")
        return _user(row)

    def password_hash(self, name: str) -> tuple[UserRecord, str | None] | None:
        """The user and their password hash (for login), or ``None`` if no such user."""
        with self._read() as conn:
            row = conn.execute(select(users_table).where(U.name == name)).first()
        return None if row is None else (_user(row), row.password_hash)

    def list_users(self) -> list[UserRecord]:
        live_keys = (
            select(K.user_id, func.count().label("n"))
            .where(K.revoked_at.is_(None))
            .group_by(K.user_id)
            .subquery()
        )
        stmt = (
            select(users_table, func.coalesce(live_keys.c.n, 0).label("n_keys"))
            .outerjoin(live_keys, live_keys.c.user_id == U.id)
            .order_by(U.name)
        )
        with self._read() as conn:
            return [_user(row, int(row.n_keys)) for row in conn.execute(stmt)]

    def set_active(self, name: str, active: bool, *, now: datetime) -> UserRecord:
        """Enable or disable a user; disabling also ends their sessions."""
        with self._write() as session:
            user_id = session.execute(select(U.id).where(U.name == name)).scalar_one_or_none()
            if user_id is None:
                raise NotFoundError(f"no user named {name!r}", hint="`ocais users list`")
            session.execute(
                update(users_table)
                .where(U.id == user_id)
                .values(active=active, disabled_at=None if active else now)
            )
            if not active:
                session.execute(delete(sessions_table).where(S.user_id == user_id))
        return self.get_user_by_name(name)

    def set_password(self, name: str, password_hash: str) -> None:
        with self._write() as session:
            result = session.execute(
                update(users_table).where(U.name == name).values(password_hash=password_hash)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFoundError(f"no user named {name!r}")

    # -- API keys ------------------------------------------------------------------------------
    def add_api_key(self, user_id: str, prefix: str, key_hash: str, *, now: datetime) -> str:
        key_id = str(uuid.uuid4())
        with self._write() as session:
            session.execute(
                insert(api_keys_table).values(
                    id=key_id,
                    user_id=user_id,
                    prefix=prefix,
                    key_hash=key_hash,
                    created_at=now,
                    revoked_at=None,
                )
            )
        return key_id

    def set_api_key_hash(self, key_id: str, key_hash: str) -> None:
        """Replace a key's stored hash (a legacy scrypt hash by the current format)."""
        with self._write() as session:
            session.execute(update(api_keys_table).where(K.id == key_id).values(key_hash=key_hash))

    def find_api_key(self, prefix: str) -> tuple[ApiKeyRecord, UserRecord] | None:
        """The live key with this prefix and its user (active or not), or ``None``."""
        stmt = select(api_keys_table).where(K.prefix == prefix, K.revoked_at.is_(None))
        with self._read() as conn:
            row = conn.execute(stmt).first()
            if row is None:
                return None
            user = conn.execute(select(users_table).where(U.id == row.user_id)).first()
        if user is None:
            return None
        key = ApiKeyRecord(
            id=row.id,
            user_id=row.user_id,
            prefix=row.prefix,
            key_hash=row.key_hash,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )
        return key, _user(user)

    def revoke_keys(self, user_id: str, *, now: datetime) -> int:
        with self._write() as session:
            result = session.execute(
                update(api_keys_table)
                .where(K.user_id == user_id, K.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    # -- server secrets ------------------------------------------------------------------------
    def server_secret(self, name: str, new_value: str, *, now: datetime) -> str:
        """The installation's secret called ``name``, stored as ``new_value`` if there is none.

        Several processes may start at once: the first insert wins, the others read its value.
        """
        found = self._server_secret(name)
        if found is not None:
            return found
        try:
            with self._write_engine.begin() as conn:
                if conn.execute(select(SS.name).where(SS.name == name)).first() is None:
                    conn.execute(
                        insert(server_secrets_table).values(
                            name=name, value=new_value, created_at=now
                        )
                    )
        except IntegrityError:
            pass  # another process inserted it between our read and our write: read theirs
        except SQLAlchemyError as exc:
            raise _store_error(exc) from exc
        found = self._server_secret(name)
        if found is None:
            raise StoreError(f"cannot store the server secret {name!r}")
        return found

    def _server_secret(self, name: str) -> str | None:
        with self._read() as conn:
            value = conn.execute(select(SS.value).where(SS.name == name)).scalar()
        return None if value is None else str(value)

    # -- sessions ------------------------------------------------------------------------------
    def create_session(
        self, token_hash: str, user_id: str, csrf_hash: str, *, now: datetime, expires: datetime
    ) -> None:
        with self._write() as session:
            session.execute(delete(sessions_table).where(S.expires_at < now))
            session.execute(
                insert(sessions_table).values(
                    token_hash=token_hash,
                    user_id=user_id,
                    csrf_hash=csrf_hash,
                    created_at=now,
                    expires_at=expires,
                )
            )

    def get_session(self, token_hash: str) -> tuple[SessionRecord, UserRecord] | None:
        stmt = select(sessions_table).where(S.token_hash == token_hash)
        with self._read() as conn:
            row = conn.execute(stmt).first()
            if row is None:
                return None
            user = conn.execute(select(users_table).where(U.id == row.user_id)).first()
        if user is None:
            return None
        return SessionRecord.model_validate(dict(row._mapping)), _user(user)

    def delete_session(self, token_hash: str) -> None:
        with self._write() as session:
            session.execute(delete(sessions_table).where(S.token_hash == token_hash))

    # -- case ownership ------------------------------------------------------------------------
    def add_case_owner(
        self, case_id: str, user_id: str, *, now: datetime, session: Session | None = None
    ) -> None:
        with self._write(session) as active:
            active.execute(delete(case_owners_table).where(CO.case_id == case_id))
            active.execute(
                insert(case_owners_table).values(case_id=case_id, user_id=user_id, created_at=now)
            )

    def case_owner(self, case_id: str) -> str | None:
        with self._read() as conn:
            owner = conn.execute(select(CO.user_id).where(CO.case_id == case_id)).scalar()
        return None if owner is None else str(owner)

    def owned_case_ids(self, user_id: str, *, limit: int, offset: int) -> list[str]:
        """Ids of the cases a user created, oldest first."""
        stmt = (
            select(CO.case_id)
            .where(CO.user_id == user_id)
            .order_by(CO.created_at, CO.case_id)
            .limit(limit)
            .offset(offset)
        )
        with self._read() as conn:
            return [str(i) for i in conn.execute(stmt).scalars()]

    def count_owned_cases(self, user_id: str) -> int:
        stmt = select(func.count()).select_from(case_owners_table).where(CO.user_id == user_id)
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    # -- predictions and feedback --------------------------------------------------------------
    def add_prediction(self, record: PredictionRecord, *, session: Session | None = None) -> None:
        with self._write(session) as active:
            active.execute(insert(predictions_table).values(record.model_dump()))

    def get_prediction(self, prediction_id: str) -> PredictionRecord | None:
        with self._read() as conn:
            row = conn.execute(select(predictions_table).where(P.id == prediction_id)).first()
        return None if row is None else PredictionRecord.model_validate(dict(row._mapping))

    def count_predictions(self) -> int:
        with self._read() as conn:
            stmt = select(func.count()).select_from(predictions_table)
            return int(conn.execute(stmt).scalar_one())

    def add_feedback(self, values: dict[str, Any]) -> FeedbackRecord:
        """Store feedback (``prediction_id`` must exist: :class:`NotFoundError` otherwise)."""
        with self._write() as session:
            if session.execute(select(P.id).where(P.id == values["prediction_id"])).first() is None:
                raise NotFoundError(f"no prediction with id {values['prediction_id']!r}")
            new_id = session.execute(insert(feedback_table).values(values).returning(F.id))
            row_id = int(new_id.scalar_one())
        with self._read() as conn:
            row = conn.execute(select(feedback_table).where(F.id == row_id)).one()
        return FeedbackRecord.model_validate(dict(row._mapping))

    def list_feedback(
        self, *, limit: int, offset: int, prediction_id: str | None = None
    ) -> list[FeedbackRecord]:
        stmt = select(feedback_table).order_by(F.created_at, F.id).limit(limit).offset(offset)
        if prediction_id is not None:
            stmt = stmt.where(F.prediction_id == prediction_id)
        with self._read() as conn:
            return [FeedbackRecord.model_validate(dict(r._mapping)) for r in conn.execute(stmt)]

    def confirmed_predictions(self) -> list[tuple[PredictionRecord, FeedbackRecord]]:
        """Each prediction with its latest feedback that names a diagnosis (id or label)."""
        latest = (
            select(F.prediction_id, func.max(F.id).label("feedback_id"))
            .where((F.disease_id.is_not(None)) | (F.disease_label.is_not(None)))
            .group_by(F.prediction_id)
            .subquery()
        )
        stmt = (
            select(predictions_table, feedback_table)
            .join(latest, latest.c.prediction_id == P.id)
            .join(feedback_table, F.id == latest.c.feedback_id)
            .order_by(P.created_at, P.id)
        )
        pairs = []
        with self._read() as conn:
            for row in conn.execute(stmt):
                values = list(row)
                n_p = len(predictions_table.columns)
                p = dict(zip(predictions_table.columns.keys(), values[:n_p], strict=True))
                f = dict(zip(feedback_table.columns.keys(), values[n_p:], strict=True))
                pairs.append((PredictionRecord.model_validate(p), FeedbackRecord.model_validate(f)))
        return pairs

    def write_connection(self) -> Connection:
        """A connection for :meth:`write_batch` that a single writer keeps open between
        batches (cheaper than taking one from the pool for every transaction); close it."""
        try:
            return self._write_engine.connect()
        except SQLAlchemyError as exc:
            raise _store_error(exc) from exc

    def write_batch(
        self,
        predictions: Sequence[PredictionRecord],
        audit_entries: Sequence[dict[str, Any]],
        *,
        connection: Connection | None = None,
    ) -> None:
        """Predictions and audit entries in one transaction (group commit), on ``connection``
        (from :meth:`write_connection`) if given."""
        if not predictions and not audit_entries:
            return
        if connection is None:
            with self._write() as active:
                _insert_batch(active, predictions, audit_entries)
            return
        try:
            with connection.begin():
                _insert_batch(connection, predictions, audit_entries)
        except SQLAlchemyError as exc:
            raise _store_error(exc) from exc

    # -- audit log -----------------------------------------------------------------------------
    def add_audit(self, entries: Sequence[dict[str, Any]]) -> None:
        self.write_batch((), entries)

    def list_audit(self, *, limit: int = 100, offset: int = 0) -> list[AuditRecord]:
        """Audit entries, newest first."""
        stmt = select(audit_table).order_by(A.id.desc()).limit(limit).offset(offset)
        with self._read() as conn:
            return [AuditRecord.model_validate(dict(r._mapping)) for r in conn.execute(stmt)]


def _insert_batch(
    active: Session | Connection,
    predictions: Sequence[PredictionRecord],
    audit_entries: Sequence[dict[str, Any]],
) -> None:
    if predictions:
        active.execute(insert(predictions_table), [p.model_dump() for p in predictions])
    if audit_entries:
        active.execute(insert(audit_table), list(audit_entries))


def _name_taken(name: str) -> InvalidRecordError:
    return InvalidRecordError(f"a user named {name!r} already exists", source="users", field="name")


def _store_error(exc: SQLAlchemyError) -> StoreError:
    if isinstance(exc, IntegrityError):
        return StoreError("write rejected by the store (a constraint failed)")
    return StoreError(f"cannot write the service tables: {exc.__class__.__name__}")
