"""`python -m app reconcile` end to end, in process: the gateway's database (SQLite and
PostgreSQL) and the in-process sandbox services, with drift of every kind seeded through
the sandboxes' own HTTP APIs, never through the gateway; plus one payment the gateway took
and the settler has not yet got to, which --repair finishes, once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.cli import build_parser
from app.cli import reconcile as command
from app.core.settings import Settings
from sandbox.seed import (
    GB_BUSINESS_ID,
    GB_OPEN_INVOICE_ID,
    GB_OVERDUE_INVOICE_ID,
    GB_PARTLY_PAID_INVOICE_ID,
    INVOICES,
    PAYMENTS,
)
from tests.mutations.conftest import ISSUER, SUBJECT, World, WorldFactory
from tests.mutations.helpers import Json, codes, minor, pay, record_key_of, watch_rows

Row = tuple[str, str, str | None, bool]
# Paid, and nothing refunded of what paid it (GB_PAID_INVOICE_ID's payment was refunded).
GB_PAID_INVOICE_ID = next(
    i.id
    for i in INVOICES
    if i.business_id == GB_BUSINESS_ID
    and i.status == "paid"
    and all(p.amount_refunded == 0 for p in PAYMENTS if p.id in i.payment_ids)
)


def environment(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """The command reads its settings from the environment, as the app's."""
    secrets = {
        "INVOICING_TOKEN": settings.invoicing_token,
        "PAYMENTS_TOKEN": settings.payments_token,
    }
    for name, secret in secrets.items():
        assert secret is not None
        monkeypatch.setenv(name, secret.get_secret_value())
    for name in (
        "APP_ENV",
        "DATABASE_URL",
        "INVOICING_URL",
        "PAYMENTS_URL",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "JWT_JWKS_URL",
        "SETTLEMENT_POLL_SECONDS",
    ):
        monkeypatch.setenv(name, str(getattr(settings, name.lower())))
    monkeypatch.setenv("JWT_ALGORITHMS", ",".join(settings.jwt_algorithms))


async def reconcile(
    world: World, capsys: pytest.CaptureFixture[str], *flags: str
) -> tuple[int, str]:
    args = build_parser().parse_args(["reconcile", *flags])
    code = await command.execute(args, transports=world.transports)
    return code, capsys.readouterr().out


async def charge(world: World, invoice_id: str, amount: int, method: str) -> Json:
    response = await world.payments.write(
        "/v1/payments",
        {
            "business_id": GB_BUSINESS_ID,
            "invoice_id": invoice_id,
            "amount": amount,
            "currency": "GBP",
            "payment_method": method,
        },
    )
    assert response.status_code == 201, response.text
    payment: Json = response.json()
    return payment


async def seed_foreign_drift(world: World) -> dict[str, str]:
    """Drift of every kind the gateway had no part in; the ids of the payments made."""
    # a card payment for an open invoice, never recorded on it
    unrecorded = await charge(world, GB_OVERDUE_INVOICE_ID, 1_000, "pm_card_ok")
    # a bank transfer, still pending, recorded on its invoice as if it had succeeded
    pending = await charge(world, GB_PARTLY_PAID_INVOICE_ID, 500, "pm_bank_transfer")
    recorded = await world.invoicing.write(
        f"/v1/invoices/{GB_PARTLY_PAID_INVOICE_ID}/payments",
        {"payment_id": pending["id"], "amount": 500, "currency": "GBP"},
    )
    assert recorded.status_code == 200, recorded.text
    # a paid invoice paid a second time in full
    total = (await world.invoicing.invoice(GB_PAID_INVOICE_ID))["total"]
    extra = await charge(world, GB_PAID_INVOICE_ID, total, "pm_card_ok")
    return {"unrecorded": unrecorded["id"], "pending": pending["id"], "extra": extra["id"]}


def old_pending() -> list[Row]:
    """The seed's pending payments (months old): pending_too_long, none of them ours."""
    limit = datetime.now(UTC) - timedelta(days=5)
    return [
        ("pending_too_long", p.invoice_id, p.id, False)
        for p in PAYMENTS
        if p.business_id == GB_BUSINESS_ID
        and p.status == "pending"
        and datetime.fromisoformat(p.created_at) < limit
    ]


def rows(document: Json) -> list[Row]:
    return [(f["kind"], f["invoice_id"], f["payment_id"], f["owned"]) for f in document["findings"]]


def in_order(found: list[Row]) -> list[Row]:
    kinds = ["succeeded_unrecorded", "recorded_not_succeeded", "over_collected", "pending_too_long"]
    return sorted(found, key=lambda r: (kinds.index(r[0]), r[1], r[2] or ""))


async def test_reconcile_reports_every_kind_and_repairs_only_what_the_gateway_took(
    world_factory: WorldFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given a gateway whose settler will not look at a pending payment during the test
    world = await world_factory(settlement_poll_seconds=86_400)
    environment(monkeypatch, world.settings)
    # and drift of every kind that the gateway had no part in
    foreign = await seed_foreign_drift(world)
    # and an invoice paid by bank transfer through the gateway, settled at the bank since
    due = (await world.invoicing.invoice(GB_OPEN_INVOICE_ID))["amount_due"]
    taken = await pay(
        world.client, world.token, "transfer", GB_OPEN_INVOICE_ID, method="pm_bank_transfer"
    )
    assert codes(taken) == [], taken
    ours = taken["payment"]["id"]
    await world.payments.settle(ours, "succeeded")
    await world.invoicing.clear_calls()
    await world.payments.clear_calls()

    # when reconciled (the businesses of the watch table: the one the gateway paid in)
    code, out = await reconcile(world, capsys, "--json")

    # then every drift is reported, and ours is owned, pending in the watch table
    document = json.loads(out)
    foreign_rows: list[Row] = [
        ("succeeded_unrecorded", GB_OVERDUE_INVOICE_ID, foreign["unrecorded"], False),
        ("succeeded_unrecorded", GB_PAID_INVOICE_ID, foreign["extra"], False),
        ("recorded_not_succeeded", GB_PARTLY_PAID_INVOICE_ID, foreign["pending"], False),
        ("over_collected", GB_PAID_INVOICE_ID, None, False),
        *old_pending(),
    ]
    ours_row: Row = ("succeeded_unrecorded", GB_OPEN_INVOICE_ID, ours, True)
    assert code == 1
    assert document["businesses"] == [GB_BUSINESS_ID]
    assert rows(document) == in_order([ours_row, *foreign_rows])
    (mine,) = [f for f in document["findings"] if f["payment_id"] == ours]
    assert (mine["amount"], mine["currency"], mine["watch_state"]) == (due, "GBP", "pending")
    assert document["repairs"] == []
    assert document["incomplete"] == []
    # and reporting wrote nothing anywhere
    assert await world.invoicing.posts(f"/v1/invoices/{GB_OPEN_INVOICE_ID}/payments") == []

    # when reconciled with --repair
    code, out = await reconcile(world, capsys, "--json", "--repair")

    # then ours is recorded on its invoice, once, with the settler's own derived key
    document = json.loads(out)
    assert code == 1  # the foreign drift remains
    assert document["repairs"] == [
        {
            "business_id": GB_BUSINESS_ID,
            "invoice_id": GB_OPEN_INVOICE_ID,
            "payment_id": ours,
            "amount": due,
            "currency": "GBP",
            "outcome": "recorded",
        }
    ]
    (post,) = await world.invoicing.posts(f"/v1/invoices/{GB_OPEN_INVOICE_ID}/payments")
    settler_key = record_key_of(ISSUER, SUBJECT, "transfer", "settle_record")
    assert post["headers"]["idempotency-key"] == settler_key
    invoice = await world.invoicing.invoice(GB_OPEN_INVOICE_ID)
    assert (invoice["status"], invoice["amount_paid"], invoice["payment_ids"]) == (
        "paid",
        due,
        [ours],
    )
    (watched,) = await watch_rows(world.engine)
    assert (watched.state, watched.outcome) == ("done", "recorded")
    # and what remains is the foreign drift, untouched: nothing else written anywhere
    assert rows(document) == in_order(foreign_rows)
    assert [c["path"] for c in await world.invoicing.calls() if c["method"] == "POST"] == [
        f"/v1/invoices/{GB_OPEN_INVOICE_ID}/payments"
    ]
    assert [c for c in await world.payments.calls() if c["method"] == "POST"] == []

    # when reconciled again, as a table
    code, out = await reconcile(world, capsys)

    # then ours is no longer reported; the foreign drift still is
    assert code == 1
    assert ours not in out
    assert foreign["unrecorded"] in out
    assert out.startswith(f"reconciled 1 business: {GB_BUSINESS_ID}\n")
    assert out.endswith(
        f"drift: {len(foreign_rows)} findings (succeeded_unrecorded 2, recorded_not_succeeded 1,"
        f" over_collected 1, pending_too_long {len(old_pending())})\n"
    )


async def test_two_repairs_at_once_record_the_payment_once(
    world_factory: WorldFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given a settled transfer the gateway took and has not recorded yet
    world = await world_factory(settlement_poll_seconds=86_400)
    environment(monkeypatch, world.settings)
    taken = await pay(
        world.client, world.token, "transfer", GB_OPEN_INVOICE_ID, method="pm_bank_transfer"
    )
    ours = taken["payment"]["id"]
    await world.payments.settle(ours, "succeeded")

    # when two operators repair at the same moment
    args = build_parser().parse_args(["reconcile", "--repair", "--json"])
    await asyncio.gather(
        command.execute(args, transports=world.transports),
        command.execute(args, transports=world.transports),
    )
    capsys.readouterr()

    # then the invoice records it once, and every recording carried the same key
    invoice = await world.invoicing.invoice(GB_OPEN_INVOICE_ID)
    assert invoice["payment_ids"] == [ours]
    posts: list[Any] = await world.invoicing.posts(f"/v1/invoices/{GB_OPEN_INVOICE_ID}/payments")
    assert {p["headers"]["idempotency-key"] for p in posts} == {
        record_key_of(ISSUER, SUBJECT, "transfer", "settle_record")
    }


async def test_a_business_named_on_the_command_line_is_reconciled_without_the_watch_table(
    world_factory: WorldFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given an empty watch table and the seed's books of the GB business
    world = await world_factory()
    environment(monkeypatch, world.settings)

    # when nothing is named, nothing is reconciled
    code, out = await reconcile(world, capsys)
    assert (code, out) == (0, "reconciled 0 businesses: none\n\nno drift\n")

    # when the business is named, with a page cap the listing reaches (100 a page)
    code, out = await reconcile(world, capsys, "--business", GB_BUSINESS_ID, "--max-pages", "1")

    # then its seeded pending payments are reported, none of them owned, and nothing else
    assert code == 1
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[3:-2]] == ["pending_too_long"] * len(old_pending())
    assert all(line.split()[6] == "no" for line in lines[3:-2])


async def test_a_repair_refunds_what_a_voided_invoice_will_not_take(
    world_factory: WorldFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given a transfer the gateway took, settled at the bank, and its invoice voided
    # meanwhile by someone else (straight at the invoicing service)
    world = await world_factory(settlement_poll_seconds=86_400)
    environment(monkeypatch, world.settings)
    taken = await pay(
        world.client, world.token, "transfer", GB_OPEN_INVOICE_ID, method="pm_bank_transfer"
    )
    ours = taken["payment"]["id"]
    await world.payments.settle(ours, "succeeded")
    voided = await world.invoicing.write(f"/v1/invoices/{GB_OPEN_INVOICE_ID}/void")
    assert voided.status_code == 200, voided.text

    # when repaired
    code, out = await reconcile(world, capsys, "--repair", "--json")

    # then the settler's step refunded it in full, and it is drift no more (the seed's
    # old pending payments still are)
    document = json.loads(out)
    assert code == 1
    assert [(r["payment_id"], r["outcome"]) for r in document["repairs"]] == [(ours, "refunded")]
    assert ours not in {f["payment_id"] for f in document["findings"]}
    (refund,) = await world.payments.refunds_for(ours)
    assert refund["amount"] == minor(taken["payment"]["amount"]["amount"])


@pytest.mark.parametrize(
    "variant",
    [
        {"short_pages": True},
        {"omit_nulls": True},
        {"batch_order": "shuffled"},
        {"offset_timestamps": True},
        {"extra_fields": True},
    ],
    ids=lambda variant: next(iter(variant)),
)
async def test_the_same_drift_is_found_whatever_the_services_choices(
    world_factory: WorldFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variant: Json,
) -> None:
    # given drift of every kind, found with the sandboxes' usual answers
    world = await world_factory()
    environment(monkeypatch, world.settings)
    await seed_foreign_drift(world)

    async def findings() -> list[Json]:
        _, out = await reconcile(world, capsys, "--json", "--business", GB_BUSINESS_ID)
        return [{**f, "age_seconds": None} for f in json.loads(out)["findings"]]

    usual = await findings()

    # when both services make a choice the contracts leave open the other way
    for sandbox in (world.invoicing, world.payments):
        await sandbox.variant(**variant)

    # then the findings are the same
    assert await findings() == usual
