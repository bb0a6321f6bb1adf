"""What must hold after a chaos run, checked against the services' own state.

Pure functions over plain records, so each rule is unit-tested with a ledger that breaks
it (tests/deploy/test_chaos_invariants.py); deploy/local/chaos/state.py reads the records
from the sandboxes' databases, the gateway's database, the run's queue and HAProxy's log.
Each function returns findings, one line each; the run passes when there are none.

Money is in minor units (int) throughout, as the sandboxes store it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# A saga (an idempotency key's record) still working on its mutation.
UNFINISHED_SAGA = "in_progress"
FINISHED_WATCH = "done"


@dataclass(frozen=True)
class Invoice:
    id: str
    total: int
    amount_paid: int
    # The payments recorded on it, in the invoicing service's own table.
    payment_ids: tuple[str, ...]


@dataclass(frozen=True)
class Payment:
    id: str
    invoice_id: str
    amount: int
    status: str  # succeeded | pending | failed
    amount_refunded: int


@dataclass(frozen=True)
class Answer:
    """One answer the client got for a mutation sent with an idempotency key. `final` is
    False for an answer that says "not known yet, retry" (DOWNSTREAM_UNAVAILABLE, the key
    in use, a 5xx, a dropped connection): only final answers must agree."""

    operation: str
    key: str
    at: float
    final: bool
    signature: str  # what a retry must answer alike (payment id and status, or codes)
    payment_id: str | None = None
    codes: tuple[str, ...] = ()  # its userErrors' codes, or ("http <status>",)


@dataclass(frozen=True)
class Saga:
    key: str
    status: str
    age_seconds: float  # since its last change
    payment_id: str | None = None


@dataclass(frozen=True)
class Watch:
    payment_id: str
    state: str


@dataclass(frozen=True)
class LbLine:
    at: float
    status: int
    server: str  # "<NOSRV>" when the balancer had no gateway up


def over_collected(invoices: Iterable[Invoice], payments: Mapping[str, Payment]) -> list[str]:
    """No invoice collected over its total; what it says it collected is the sum of the
    payments recorded on it."""
    found = []
    for invoice in invoices:
        if invoice.amount_paid > invoice.total:
            found.append(
                f"invoice {invoice.id} collected {invoice.amount_paid} over its total"
                f" {invoice.total}"
            )
        known = [payments[p].amount for p in invoice.payment_ids if p in payments]
        if len(known) == len(invoice.payment_ids) and sum(known) != invoice.amount_paid:
            found.append(
                f"invoice {invoice.id} says {invoice.amount_paid} paid, its recorded payments"
                f" sum to {sum(known)}"
            )
    return found


def recorded_once(
    invoices: Iterable[Invoice], payments: Mapping[str, Payment], run_payments: Iterable[str]
) -> list[str]:
    """Every payment of the run that succeeded is recorded on its own invoice exactly once,
    unless it was refunded in full unrecorded (the saga's compensation); no other payment
    is recorded anywhere."""
    places: dict[str, list[str]] = defaultdict(list)
    for invoice in invoices:
        for payment_id in invoice.payment_ids:
            places[payment_id].append(invoice.id)
    found = []
    for payment_id in run_payments:
        payment = payments[payment_id]
        where = places.get(payment_id, [])
        if payment.status != "succeeded":
            if where:
                found.append(f"{payment.status} payment {payment_id} recorded on {where}")
            continue
        if len(where) > 1:
            found.append(f"payment {payment_id} recorded {len(where)} times: {where}")
        elif where and where[0] != payment.invoice_id:
            found.append(f"payment {payment_id} recorded on {where[0]}, not its invoice")
        elif not where and payment.amount_refunded < payment.amount:
            found.append(
                f"succeeded payment {payment_id} ({payment.amount}) is on no invoice and was"
                f" not refunded in full ({payment.amount_refunded})"
            )
    return found


def double_charges(
    payments: Mapping[str, Payment],
    run_payments: Iterable[str],
    answers: Iterable[Answer],
    sagas: Iterable[Saga],
) -> list[str]:
    """No idempotency key charged twice: each key's kept charges (succeeded, not refunded
    in full) number at most one, and every kept charge of the run belongs to a key (one
    the client was told of, or the gateway's saga holds)."""
    owners: dict[str, set[str]] = defaultdict(set)
    for answer in answers:
        if answer.payment_id and answer.operation == "payInvoice":
            owners[answer.payment_id].add(answer.key)
    for saga in sagas:
        if saga.payment_id:
            owners[saga.payment_id].add(saga.key)
    kept_by_key: dict[str, set[str]] = defaultdict(set)
    found = []
    for payment_id in run_payments:
        payment = payments[payment_id]
        kept = payment.status == "succeeded" and payment.amount_refunded < payment.amount
        if not kept:
            continue
        keys = owners.get(payment_id, set())
        if not keys:
            found.append(f"payment {payment_id} was charged for no key (a lost charge)")
        if len(keys) > 1:
            found.append(f"payment {payment_id} answered to several keys: {sorted(keys)}")
        for key in keys:
            kept_by_key[key].add(payment_id)
    for key, kept_ids in sorted(kept_by_key.items()):
        if len(kept_ids) > 1:
            found.append(f"key {key} charged {len(kept_ids)} times: {sorted(kept_ids)}")
    return found


def inconsistent_answers(answers: Iterable[Answer]) -> list[str]:
    """Every retry of a key got the same final answer."""
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for answer in answers:
        if answer.final:
            seen[(answer.operation, answer.key)].add(answer.signature)
    return [
        f"{operation} key {key} answered {len(signatures)} ways: {sorted(signatures)}"
        for (operation, key), signatures in sorted(seen.items())
        if len(signatures) > 1
    ]


def unanswered(answers: Iterable[Answer]) -> list[str]:
    """Every key the client sent got a final answer in the end (retried after the faults)."""
    final: dict[tuple[str, str], bool] = {}
    for answer in answers:
        ident = (answer.operation, answer.key)
        final[ident] = final.get(ident, False) or answer.final
    return [f"{op} key {key} never got a final answer" for (op, key), ok in final.items() if not ok]


def lost_events(recorded: Iterable[str], consumed: Iterable[str]) -> list[str]:
    """Every event the gateway recorded reached the broker (the run's queue got it)."""
    missing = sorted(set(recorded) - set(consumed))
    if not missing:
        return []
    return [f"{len(missing)} recorded event(s) never reached RabbitMQ, e.g. {missing[:5]}"]


def unfinished(
    sagas: Iterable[Saga], watches: Iterable[Watch], open_outbox: int, bound_seconds: float
) -> list[str]:
    """No saga still in progress past its bound, no settled payment still watched, no
    post-commit step left in the outbox."""
    found = [
        f"saga {saga.key} still {saga.status} after {saga.age_seconds:.0f}s"
        f" (bound {bound_seconds:.0f}s)"
        for saga in sagas
        if saga.status == UNFINISHED_SAGA and saga.age_seconds > bound_seconds
    ]
    found += [
        f"payment {watch.payment_id} still watched ({watch.state}) after it settled"
        for watch in watches
        if watch.state != FINISHED_WATCH
    ]
    if open_outbox:
        found.append(f"{open_outbox} outbox step(s) never done")
    return found


def balancer_errors(
    lines: Iterable[LbLine], no_gateway_up: Sequence[tuple[float, float]]
) -> list[str]:
    """The balancer answered no 5xx but while it had no gateway to send to (`<NOSRV>` in
    its log, or inside a window when its statistics showed none UP)."""
    bad = [
        line
        for line in lines
        if line.status >= 500
        and line.server != "<NOSRV>"
        and not any(start <= line.at <= end for start, end in no_gateway_up)
    ]
    if not bad:
        return []
    sample = ", ".join(f"{line.status} from {line.server} at {line.at:.1f}s" for line in bad[:5])
    return [f"{len(bad)} 5xx answer(s) while a gateway was up: {sample}"]
