"""The gateway's own tables. Migrations in app/db/migrations/versions create them; a test keeps
the two in step."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from app.db.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# One row per (caller scope, client key): the claim, the recovery point of a multi-step
# mutation, and its stored outcome. The primary key is what makes the claim atomic.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # sha256 of (iss, sub, mutation name): one user's key never replays for another.
    Column("scope_digest", String(64), primary_key=True),
    Column("idempotency_key", String(255), primary_key=True),
    # sha256 of the canonical input: same key with other input is refused.
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("recovery_point", String(32), nullable=False),
    # Lease of the process working on it; a crashed holder's lease runs out.
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", UtcDateTime(), nullable=True),
    # What a multi-step mutation knows between steps (e.g. the payment it made).
    Column("state", JSON, nullable=True),
    # The final outcome, replayed to every retry with the same key and input.
    Column("result", JSON, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Index(None, "expires_at"),
)

# Steps that must happen after a commit (recording a charge on its invoice), written in
# the same transaction as the state that needs them and relayed until done.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("completed_at", UtcDateTime(), nullable=True),
    Index(None, "completed_at", "next_attempt_at"),
)

# At most one payment saga per invoice at a time: two keys racing on one invoice must
# never collect more than it is owed. Held until the saga ends (recorded, failed or
# compensated), however long that takes; never by expiry.
payment_locks = Table(
    "payment_locks",
    metadata,
    Column("invoice_id", String(64), primary_key=True),
    Column("scope_digest", String(64), nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("acquired_at", UtcDateTime(), nullable=False),
    # Null for a payment saga (held until it ends). A void holds the invoice only for
    # the length of its request: if its process dies, the lock must not outlive it.
    Column("expires_at", UtcDateTime(), nullable=True),
)

# Every pending payment a payInvoice saga took, watched until it settles (app/settlement):
# written in the same transaction that ends the saga, so no pending payment is ever
# forgotten, whatever crashes. Rows are kept after they finish, as the record of what
# the gateway did with each (reconcile reads it).
payment_watch = Table(
    "payment_watch",
    metadata,
    Column("payment_id", String(64), primary_key=True),
    Column("invoice_id", String(64), nullable=False),
    Column("business_id", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # The saga's key: the settlement's downstream writes derive their keys from it.
    Column("scope_digest", String(64), nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    # The user who took the payment: the audit trail of the recording names them.
    Column("actor_id", String(255), nullable=False),
    # pending -> recording | refunding -> done; `outcome` says how it ended.
    Column("state", String(16), nullable=False),
    Column("outcome", String(16), nullable=True),
    # Fixed when refunding starts, so that every retry sends the same refund body.
    Column("refund_amount", BigInteger, nullable=True),
    Column("checks", Integer, nullable=False, server_default="0"),
    Column("next_check_at", UtcDateTime(), nullable=False),
    Column("taken_at", UtcDateTime(), nullable=False),
    Column("settled_at", UtcDateTime(), nullable=True),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("alerted_at", UtcDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Index(None, "state", "next_check_at"),
    Index(None, "invoice_id"),
    Index(None, "business_id"),
)

# Domain events (app/events), written in the same transaction as the change that causes
# them, and published to the broker by the event relay. `position` is the global order of
# recording; `sequence` orders one subject's events (from 1, no gaps) for consumers.
domain_events = Table(
    "domain_events",
    metadata,
    Column("position", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("type", String(40), nullable=False),
    Column("business_id", String(64), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("data", JSON, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    # Null until the broker confirmed the message.
    Column("published_at", UtcDateTime(), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("subject", "sequence"),
    Index(None, "published_at", "next_attempt_at"),
    Index(None, "business_id", "position"),
)
