"""Saga state on idempotency keys; one payment saga per invoice.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("state", sa.JSON(), nullable=True))
    op.create_table(
        "payment_locks",
        sa.Column("invoice_id", sa.String(64), nullable=False),
        sa.Column("scope_digest", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", name="pk_payment_locks"),
    )


def downgrade() -> None:
    op.drop_table("payment_locks")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("state")
