"""Web service tables: users, API keys, sessions, case owners, predictions, feedback, audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types frozen at this revision (do not import them from the models: those may change later).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("disabled_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
        sa.CheckConstraint("role IN ('clinician', 'researcher', 'admin')", name="ck_users_role"),
    )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
        _fk("api_keys", "user_id", "users", "CASCADE"),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])

    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("csrf_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_sessions"),
        _fk("sessions", "user_id", "users", "CASCADE"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])

    op.create_table(
        "case_owners",
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_case_owners"),
        _fk("case_owners", "case_id", "cases", "CASCADE"),
        _fk("case_owners", "user_id", "users", "CASCADE"),
    )
    op.create_index("ix_case_owners_user_id", "case_owners", ["user_id"])

    op.create_table(
        "predictions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("input_kind", sa.String(16), nullable=False),
        sa.Column("observed", JSON, nullable=False),
        sa.Column("excluded", JSON, nullable=False),
        sa.Column("sex", sa.String(16), nullable=False),
        sa.Column("age_years", sa.Float(), nullable=True),
        sa.Column("top_k", sa.Integer(), nullable=False),
        sa.Column("predictor", sa.String(64), nullable=False),
        sa.Column("knowledge_version", sa.String(64), nullable=False),
        sa.Column("candidates", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_predictions"),
        _fk("predictions", "user_id", "users", "SET NULL"),
    )
    op.create_index("ix_predictions_user_id", "predictions", ["user_id"])
    op.create_index("ix_predictions_created_at", "predictions", ["created_at"])

    op.create_table(
        "feedback",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("prediction_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("disease_id", sa.String(), nullable=True),
        sa.Column("disease_label", sa.Text(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="ck_feedback_rating"),
        _fk("feedback", "prediction_id", "predictions", "CASCADE"),
        _fk("feedback", "user_id", "users", "SET NULL"),
    )
    for column in ("prediction_id", "user_id", "created_at", "disease_id"):
        op.create_index(f"ix_feedback_{column}", "feedback", [column])

    op.create_table(
        "audit_log",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("object_ids", JSON, nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    for column in ("at", "user_id", "action"):
        op.create_index(f"ix_audit_log_{column}", "audit_log", [column])


def downgrade() -> None:
    for table in (
        "audit_log",
        "feedback",
        "predictions",
        "case_owners",
        "sessions",
        "api_keys",
        "users",
    ):
        op.drop_table(table)
