"""Data residency with two real PostgreSQL databases: each business's records of money
(idempotency keys, saga state and locks, outbox, settlement watch, domain events) land in
its jurisdiction's database only, and one region's database being down stops none of the
other's payments, while the down region's mutations get a typed answer and do nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.db.tables import domain_events, idempotency_keys, outbox, payment_locks, payment_watch
from sandbox.seed import (
    GB_BUSINESS_ID,
    GB_CUSTOMER_ID,
    GB_OPEN_INVOICE_ID,
    IN_BUSINESS_ID,
    IN_CUSTOMER_ID,
    IN_OPEN_INVOICE_ID,
)
from tests.mutations.helpers import codes, eventually, pay, watch_rows
from tests.mutations.test_settlement import FAST
from tests.residency.conftest import CLOSED, Gateway, GatewayFactory

Json = dict[str, Any]
MONEY_TABLES = (idempotency_keys, outbox, payment_locks, payment_watch, domain_events)
OWN = {
    "GB": (GB_BUSINESS_ID, GB_CUSTOMER_ID, GB_OPEN_INVOICE_ID, "gb-"),
    "IN": (IN_BUSINESS_ID, IN_CUSTOMER_ID, IN_OPEN_INVOICE_ID, "in-"),
}
OTHER = {"GB": "IN", "IN": "GB"}

CUSTOMER = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
  customer { id } userErrors { code message } replayed } }"""
INVOICE = """mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) {
  invoice { id } userErrors { code message } replayed } }"""
FINALIZE = """mutation($input: FinalizeInvoiceInput!) { finalizeInvoice(input: $input) {
  invoice { id status } userErrors { code message } replayed } }"""
REFUND = """mutation($input: RefundPaymentInput!) { refundPayment(input: $input) {
  refund { id } userErrors { code message } replayed } }"""
OUTCOME = """query($key: String!) { mutationOutcome(mutation: PAY_INVOICE, idempotencyKey: $key)
  { status } }"""


async def graphql(gateway: Gateway, document: str, variables: Json) -> Json:
    response = await gateway.client.post(
        "/graphql",
        json={"query": document, "variables": variables},
        headers={"Authorization": f"Bearer {gateway.token}"},
    )
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


async def mutate(gateway: Gateway, document: str, input_: Json) -> Json:
    body = await graphql(gateway, document, {"input": input_})
    assert "errors" not in body, body
    payload: Json = next(iter(body["data"].values()))
    return payload


async def business_records(gateway: Gateway, prefix: str, jurisdiction: str) -> str:
    """Every money-record row of one business (by `prefix`) created in the gateway: a
    customer, an invoice created and finalized and paid by bank transfer (watched), the
    open invoice paid by card, and that payment refunded."""
    business, customer, open_invoice, _ = OWN[jurisdiction]
    currency = "GBP" if jurisdiction == "GB" else "INR"
    made = await mutate(
        gateway, CUSTOMER, {"idempotencyKey": f"{prefix}cus", "businessId": business, "name": "A"}
    )
    assert made["userErrors"] == [], made
    invoice = await mutate(
        gateway,
        INVOICE,
        {
            "idempotencyKey": f"{prefix}inv",
            "businessId": business,
            "customerId": customer,
            "currency": currency,
            "dueDate": (datetime.now(UTC).date() + timedelta(days=30)).isoformat(),
            "lines": [{"description": "Work", "quantity": 1, "unitAmount": "100.00"}],
        },
    )
    assert invoice["userErrors"] == [], invoice
    invoice_id: str = invoice["invoice"]["id"]
    finalized = await mutate(
        gateway, FINALIZE, {"idempotencyKey": f"{prefix}fin", "invoiceId": invoice_id}
    )
    assert finalized["userErrors"] == [], finalized
    transfer = await pay(
        gateway.client, gateway.token, f"{prefix}transfer", invoice_id, method="pm_bank_transfer"
    )
    assert codes(transfer) == [], transfer
    card = await pay(gateway.client, gateway.token, f"{prefix}card", open_invoice)
    assert codes(card) == [], card
    refund = await mutate(
        gateway, REFUND, {"idempotencyKey": f"{prefix}refund", "paymentId": card["payment"]["id"]}
    )
    assert refund["userErrors"] == [], refund
    return invoice_id


async def rows(gateway: Gateway, jurisdiction: str) -> dict[str, list[str]]:
    """Each money table's rows in one region's database, as text (JSON columns too)."""
    engine = gateway.engines[jurisdiction]
    assert engine is not None
    found: dict[str, list[str]] = {}
    async with engine.connect() as connection:
        for table in MONEY_TABLES:
            result = await connection.execute(select(table))
            found[table.name] = [repr(tuple(row)) for row in result]
    return found


async def test_each_business_s_records_stay_in_its_jurisdiction(
    region_databases: dict[str, str], gateway_factory: GatewayFactory
) -> None:
    # given a gateway whose UK and Indian records have their own databases
    gateway = await gateway_factory(region_databases)
    # when each business gets customers, invoices, payments (card and transfer), refunds
    made = {j: await business_records(gateway, OWN[j][3], j) for j in ("GB", "IN")}
    # then each database holds its own business's records, in every money table, and
    # nothing that names the other business, its objects or its keys
    for jurisdiction in ("GB", "IN"):
        stored = await rows(gateway, jurisdiction)
        everything = "\n".join(line for lines in stored.values() for line in lines)
        for table in ("idempotency_keys", "outbox", "payment_watch", "domain_events"):
            assert stored[table], f"{jurisdiction}: no {table} rows"
        assert OWN[jurisdiction][0] in everything
        assert made[jurisdiction] in everything
        other = OTHER[jurisdiction]
        for name in (*OWN[other][:3], made[other]):
            assert name not in everything, f"{name} in the {jurisdiction} database"
        keys = " ".join(stored["idempotency_keys"] + stored["outbox"])
        assert f"'{OWN[other][3]}" not in keys
        assert f"'{OWN[jurisdiction][3]}" in keys
    # and a retry with the same key reaches the same record: replayed, nothing sent again
    posts = len(await gateway.payments.posts("/v1/payments"))
    again = await pay(gateway.client, gateway.token, "in-card", IN_OPEN_INVOICE_ID)
    assert again["replayed"] is True
    assert len(await gateway.payments.posts("/v1/payments")) == posts


async def test_one_region_down_stops_none_of_the_other_s_payments(
    region_databases: dict[str, str], gateway_factory: GatewayFactory
) -> None:
    # given a gateway whose Indian database is down
    gateway = await gateway_factory({"GB": region_databases["GB"], "IN": CLOSED}, **FAST)
    # when a UK invoice is paid
    paid = await pay(
        gateway.client, gateway.token, "gb-card", GB_OPEN_INVOICE_ID, amount_minor=1000
    )
    # then it is paid, recorded in the UK database
    assert codes(paid) == [], paid
    assert paid["payment"]["status"] == "SUCCEEDED"
    assert any("gb-card" in r for r in (await rows(gateway, "GB"))["idempotency_keys"])
    # and what the caller asks of its key is answered although India's database is down
    shown = await graphql(gateway, OUTCOME, {"key": "gb-card"})
    assert shown == {"data": {"mutationOutcome": {"status": "COMPLETED"}}}

    # when an Indian invoice is paid, and an Indian customer created
    refused = await pay(gateway.client, gateway.token, "in-card", IN_OPEN_INVOICE_ID)
    customer = await mutate(
        gateway,
        CUSTOMER,
        {"idempotencyKey": "in-cus", "businessId": IN_BUSINESS_ID, "name": "B"},
    )
    # then each gets the typed unavailable answer, and nothing was sent downstream
    assert codes(refused) == ["DOWNSTREAM_UNAVAILABLE"]
    assert refused["payment"] is None
    assert codes(customer) == ["DOWNSTREAM_UNAVAILABLE"]
    assert len(await gateway.payments.posts("/v1/payments")) == 1
    assert await gateway.invoicing.posts("/v1/customers") == []
    # and a key found in no region that answered is a typed error, not a guess
    unknown = await graphql(gateway, OUTCOME, {"key": "in-card"})
    assert unknown["data"] == {"mutationOutcome": None}
    assert unknown["errors"][0]["extensions"]["code"] == "DOWNSTREAM_UNAVAILABLE"

    # when a UK bank transfer of the rest settles days later
    taken = await pay(
        gateway.client,
        gateway.token,
        "gb-transfer",
        GB_OPEN_INVOICE_ID,
        method="pm_bank_transfer",
    )
    assert codes(taken) == [], taken
    await gateway.payments.settle(taken["payment"]["id"], "succeeded")
    # then the UK region's settler records it, India's being down notwithstanding
    gb = gateway.engines["GB"]
    assert gb is not None

    async def recorded() -> bool:
        return [(r.state, r.outcome) for r in await watch_rows(gb)] == [("done", "recorded")]

    await eventually(recorded, within=10, what="the UK transfer to be recorded")


async def test_readiness_reports_each_region_and_stays_in_the_load_balancer(
    region_databases: dict[str, str], gateway_factory: GatewayFactory
) -> None:
    # given a gateway whose Indian database is down
    gateway = await gateway_factory({"GB": region_databases["GB"], "IN": CLOSED})
    operator = {"Authorization": "Bearer residency-metrics"}
    # when readiness is asked, by an operator and by the load balancer
    response = await gateway.client.get("/readyz", headers=operator)
    anonymous = await gateway.client.get("/readyz")
    metrics = await gateway.client.get("/metrics", headers=operator)
    # then the replica stays in (the UK's payments go on), saying which region is down
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"] == {
        "database_GB": "ok",
        "database_IN": "unreachable",
        "invoicing": "ok",
        "payments": "ok",
    }
    assert (anonymous.status_code, anonymous.json()) == (200, {"status": "degraded"})
    assert 'gateway_region_database_up{region="IN"} 0.0' in metrics.text
    assert 'gateway_region_database_up{region="GB"} 1.0' in metrics.text
