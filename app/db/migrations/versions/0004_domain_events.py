"""Domain events, recorded with the change that causes them and relayed to the broker.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "domain_events",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("business_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", _TZ, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("recorded_at", _TZ, nullable=False),
        sa.Column("published_at", _TZ, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", _TZ, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("position", name="pk_domain_events"),
        sa.UniqueConstraint("id", name="uq_domain_events_id"),
        sa.UniqueConstraint("subject", "sequence", name="uq_domain_events_subject_sequence"),
    )
    op.create_index(
        "ix_domain_events_published_at_next_attempt_at",
        "domain_events",
        ["published_at", "next_attempt_at"],
    )
    op.create_index(
        "ix_domain_events_business_id_position", "domain_events", ["business_id", "position"]
    )


def downgrade() -> None:
    op.drop_table("domain_events")
