"""Reconciliation inside the app (RECONCILE_INTERVAL_SECONDS > 0): the drift of the watch
table's businesses, counted per kind on /metrics (0 included) and logged per finding."""

from __future__ import annotations

import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sandbox.seed import GB_BUSINESS_ID, GB_OPEN_INVOICE_ID, GB_OVERDUE_INVOICE_ID
from tests.mutations.conftest import World, WorldFactory
from tests.mutations.helpers import codes, eventually, pay
from tests.reconcile.test_reconcile_command import charge, old_pending

METRICS_TOKEN = "ops-metrics-token"


async def drift_gauges(world: World) -> dict[str, float]:
    response = await world.client.get(
        "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert response.status_code == 200, response.text
    return {
        sample.labels["kind"]: sample.value
        for family in text_string_to_metric_families(response.text)
        if family.name == "gateway_reconcile_drift"
        for sample in family.samples
    }


def expected(unrecorded: int) -> dict[str, float]:
    return {
        "succeeded_unrecorded": unrecorded,
        "recorded_not_succeeded": 0,
        "over_collected": 0,
        "pending_too_long": len(old_pending()),
    }


async def test_the_app_counts_drift_per_kind_every_interval_and_logs_each_finding(
    world_factory: WorldFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # given an app reconciling every 0.2 s, whose watch table names the GB business (a
    # transfer taken through the gateway, still pending), and a card payment that no one
    # recorded on its invoice
    caplog.set_level(logging.WARNING, logger="gateway.reconcile")
    world = await world_factory(
        reconcile_interval_seconds=0.2,
        metrics_token=METRICS_TOKEN,
        settlement_poll_seconds=86_400,
    )
    taken = await pay(
        world.client, world.token, "transfer", GB_OPEN_INVOICE_ID, method="pm_bank_transfer"
    )
    assert codes(taken) == [], taken
    unrecorded = await charge(world, GB_OVERDUE_INVOICE_ID, 1_000, "pm_card_ok")

    # then /metrics counts each kind
    async def shows(counts: dict[str, float]) -> bool:
        return await drift_gauges(world) == counts

    await eventually(lambda: shows(expected(1)), within=10, what="the drift counted per kind")
    # and each finding was logged as a warning, with its fields
    logged = [
        r
        for r in caplog.records
        if r.name == "gateway.reconcile" and getattr(r, "payment_id", None) == unrecorded["id"]
    ]
    assert logged, caplog.text
    assert logged[0].levelno == logging.WARNING
    assert logged[0].getMessage() == "reconciliation found drift"
    assert {
        name: getattr(logged[0], name)
        for name in ("kind", "business_id", "invoice_id", "amount", "currency", "owned")
    } == {
        "kind": "succeeded_unrecorded",
        "business_id": GB_BUSINESS_ID,
        "invoice_id": GB_OVERDUE_INVOICE_ID,
        "amount": 1_000,
        "currency": "GBP",
        "owned": False,
    }

    # when the payments service cannot be read for a while
    caplog.clear()
    await world.payments.faults(fail_next=100_000, fail_status=503, method="GET")

    async def missed() -> bool:
        return any(getattr(r, "event", None) == "reconcile_incomplete" for r in caplog.records)

    await eventually(missed, within=10, what="a pass that could not read the business")

    # then the counts are those of the last complete reading, not zeros
    assert await drift_gauges(world) == expected(1)

    # when the service is back and the payment is recorded on its invoice by hand
    await world.payments.clear_faults()
    recorded = await world.invoicing.write(
        f"/v1/invoices/{GB_OVERDUE_INVOICE_ID}/payments",
        {"payment_id": unrecorded["id"], "amount": 1_000, "currency": "GBP"},
    )
    assert recorded.status_code == 200, recorded.text

    # then the cleared drift shows as 0
    await eventually(lambda: shows(expected(0)), within=15, what="the drift cleared")


async def test_reconciliation_is_off_by_default(world_factory: WorldFactory) -> None:
    world = await world_factory(metrics_token=METRICS_TOKEN)

    assert await drift_gauges(world) == {}
