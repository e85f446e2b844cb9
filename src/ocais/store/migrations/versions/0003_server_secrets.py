"""Per-installation secrets: the server key of the API-key HMACs (no more scrypt for keys).

Existing rows keep their scrypt hashes (passwords and API keys): they still verify, and are
re-hashed (Argon2id, HMAC-SHA256) on the next successful login or key use, which this schema
change does not need to know about.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types frozen at this revision (do not import them from the models: those may change later).
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_server_secrets"),
    )


def downgrade() -> None:
    # Code before 0003 verifies only scrypt: keys and passwords re-hashed since then (HMAC,
    # Argon2id) stop working after a downgrade; issue new keys and set new passwords.
    op.drop_table("server_secrets")
