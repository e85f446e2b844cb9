"""Tables of the web service: accounts, API keys, sessions, predictions, feedback, audit log.

They live on the store's :class:`~ocais.store.models.Base` metadata (one schema, one set of
Alembic migrations: revisions ``0002`` and ``0003``). Secrets are never stored in clear: passwords
as Argon2id hashes, API keys as HMAC-SHA256 digests under the installation's server key (stores
written before ``0003`` also hold salted scrypt hashes, replaced on next use; see
:mod:`ocais.serve.security`), session and CSRF tokens as SHA-256 digests (they are random 256-bit
values). Nothing here holds free text from patients except ``feedback.comment`` (a clinician's
comment, treated as possibly identifying: stored, never logged) — predictions keep only the HPO
ids, sex and age they were made from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from ocais.store.models import Base, JsonType, RowId, UTCDateTime

ROLES = ("clinician", "researcher", "admin")


class UserRow(Base):
    """A person (or a service account) who may use the API."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('clinician', 'researcher', 'admin')", name="role"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiKeyRow(Base):
    """An API key: ``prefix`` (in clear) finds the row, ``key_hash`` verifies the secret."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ServerSecretRow(Base):
    """A per-installation secret, created once by the first process that needs it.

    ``api-key-hmac`` keys the API-key hashes; it lives beside them so that every process sharing
    the store uses the same one and a backup restores both (see :mod:`ocais.serve.security`).
    """

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SessionRow(Base):
    """A browser session: the SHA-256 of the cookie token, and of its CSRF token."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class CaseOwnerRow(Base):
    """Who created a case through the API (clinicians see and delete their own cases)."""

    __tablename__ = "case_owners"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PredictionRow(Base):
    """One prediction served: its input terms (never the text) and its ranked candidates."""

    __tablename__ = "predictions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    input_kind: Mapped[str] = mapped_column(String(16))
    observed: Mapped[list[str]] = mapped_column(JsonType)
    excluded: Mapped[list[str]] = mapped_column(JsonType)
    sex: Mapped[str] = mapped_column(String(16))
    age_years: Mapped[float | None] = mapped_column(Float)
    top_k: Mapped[int] = mapped_column(Integer)
    predictor: Mapped[str] = mapped_column(String(64))
    knowledge_version: Mapped[str] = mapped_column(String(64))
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)


class FeedbackRow(Base):
    """A clinician's verdict on a prediction: confirmed diagnosis, rating, comment."""

    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    prediction_id: Mapped[str] = mapped_column(
        ForeignKey("predictions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    disease_id: Mapped[str | None] = mapped_column(String(), index=True)
    disease_label: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)


class AuditRow(Base):
    """Who did what and when: route name, object ids, status — never bodies or free text."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    user_id: Mapped[str | None] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    method: Mapped[str] = mapped_column(String(8))
    status: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(64))
    object_ids: Mapped[dict[str, str]] = mapped_column(JsonType)
    duration_ms: Mapped[float] = mapped_column(Float)


users_table: Table = Base.metadata.tables["users"]
api_keys_table: Table = Base.metadata.tables["api_keys"]
sessions_table: Table = Base.metadata.tables["sessions"]
server_secrets_table: Table = Base.metadata.tables["server_secrets"]
case_owners_table: Table = Base.metadata.tables["case_owners"]
predictions_table: Table = Base.metadata.tables["predictions"]
feedback_table: Table = Base.metadata.tables["feedback"]
audit_table: Table = Base.metadata.tables["audit_log"]


# --- records returned by the service repository ------------------------------------------------
class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserRecord(_Record):
    id: str
    name: str
    role: str
    active: bool
    created_at: datetime
    disabled_at: datetime | None = None
    has_password: bool = False
    n_keys: int = 0


class ApiKeyRecord(_Record):
    id: str
    user_id: str
    prefix: str
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None = None


class SessionRecord(_Record):
    token_hash: str
    user_id: str
    csrf_hash: str
    created_at: datetime
    expires_at: datetime


class PredictionRecord(_Record):
    id: str
    user_id: str | None
    created_at: datetime
    input_kind: str
    observed: list[str]
    excluded: list[str]
    sex: str
    age_years: float | None
    top_k: int
    predictor: str
    knowledge_version: str
    candidates: list[dict[str, Any]]


class FeedbackRecord(_Record):
    id: int
    prediction_id: str
    user_id: str | None
    created_at: datetime
    disease_id: str | None
    disease_label: str | None
    rating: int | None
    comment: str | None


class AuditRecord(_Record):
    id: int
    at: datetime
    user_id: str | None
    action: str
    method: str
    status: int
    request_id: str
    object_ids: dict[str, str]
    duration_ms: float
