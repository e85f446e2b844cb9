"""Initial schema: cases and their observations, diagnoses, findings, documents; ingest runs.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types frozen at this revision (do not import them from the models: those may change later).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def _case_fk() -> sa.ForeignKey:
    return sa.ForeignKey("cases.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_format", sa.String(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n_read", sa.Integer(), nullable=False),
        sa.Column("n_inserted", sa.Integer(), nullable=False),
        sa.Column("n_updated", sa.Integer(), nullable=False),
        sa.Column("n_unchanged", sa.Integer(), nullable=False),
        sa.Column("n_rejected", sa.Integer(), nullable=False),
        sa.Column("rejects", JSON, nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ingest_runs"),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'aborted', 'failed', 'interrupted')",
            name="ck_ingest_runs_status",
        ),
    )
    op.create_index("ix_ingest_runs_started_at", "ingest_runs", ["started_at"])
    op.create_index("ix_ingest_runs_status", "ingest_runs", ["status"])

    op.create_table(
        "cases",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("source_format", sa.String(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("site", sa.String(), nullable=False),
        sa.Column("cohort", sa.String(), nullable=True),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("sex", sa.String(16), nullable=False),
        sa.Column("age_years", sa.Float(), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("knowledge_version", sa.String(), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column(
            "ingest_run_id",
            sa.String(36),
            sa.ForeignKey(
                "ingest_runs.id",
                name="fk_cases_ingest_run_id_ingest_runs",
                ondelete="SET NULL",
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("source_key", name="uq_cases_source_key"),
    )
    for column in (
        "external_id",
        "source_format",
        "site",
        "cohort",
        "synthetic",
        "sex",
        "created_at",
        "ingest_run_id",
    ):
        op.create_index(f"ix_cases_{column}", "cases", [column])

    op.create_table(
        "observations",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("hpo_id", sa.String(10), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("onset_age_years", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_observations"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_observations_case_id_cases", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_observations_case_id", "observations", ["case_id"])
    op.create_index("ix_observations_hpo_id", "observations", ["hpo_id"])

    op.create_table(
        "diagnoses",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("disease_id", sa.String(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_diagnoses"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_diagnoses_case_id_cases", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_diagnoses_case_id", "diagnoses", ["case_id"])
    op.create_index("ix_diagnoses_disease_id", "diagnoses", ["disease_id"])

    op.create_table(
        "findings",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("system", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("display", sa.Text(), nullable=True),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("unit", sa.String(), nullable=True),
        sa.Column("date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_findings"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_findings_case_id_cases", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_findings_case_id", "findings", ["case_id"])
    op.create_index("ix_findings_category", "findings", ["category"])
    op.create_index("ix_findings_code", "findings", ["code"])

    op.create_table(
        "documents",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_documents_case_id_cases", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_documents_case_id", "documents", ["case_id"])


def downgrade() -> None:
    for table in ("documents", "findings", "diagnoses", "observations", "cases", "ingest_runs"):
        op.drop_table(table)
