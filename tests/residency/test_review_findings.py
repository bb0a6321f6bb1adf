"""Residency failure modes beyond a refused connection: a region's database that hangs
(a partition), one that answers every connection with a PostgreSQL error (restarting,
gone, credentials), and one client key used for two regions' subjects (the two claims
cannot see each other, so the downstream services' own keys are what refuse the second:
that refusal must end the mutation as a reuse, not pause it for ever)."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app.db.engine import CONNECT_TIMEOUT_SECONDS
from app.residency.regions import is_unreachable
from sandbox.seed import GB_BUSINESS_ID, GB_OPEN_INVOICE_ID, IN_BUSINESS_ID, IN_OPEN_INVOICE_ID
from tests.mutations.helpers import codes, lock_rows, pay, pay_answer
from tests.residency.conftest import GatewayFactory
from tests.tcp_hop import database_behind_hop


async def test_a_hung_indian_database_does_not_stall_uk_payments(
    region_databases: dict[str, str], gateway_factory: GatewayFactory
) -> None:
    async with database_behind_hop(region_databases["IN"]) as (proxy, in_url):
        # given a gateway whose Indian database then stops answering (a partition)
        gateway = await gateway_factory(
            {"GB": region_databases["GB"], "IN": in_url}, request_timeout_seconds=8
        )
        proxy.set("hang")
        # when a UK invoice is paid
        started = time.monotonic()
        body = await pay_answer(gateway.client, gateway.token, "gb-hung", GB_OPEN_INVOICE_ID)
        took = time.monotonic() - started
        # then it is paid, promptly
        assert "errors" not in body, (round(took, 1), body)
        assert codes(body["data"]["payInvoice"]) == []
        proxy.set("up")


async def test_an_indian_database_refusing_connections_with_an_error_stops_no_uk_payment(
    region_databases: dict[str, str], gateway_factory: GatewayFactory
) -> None:
    # given India's database refuses with a PostgreSQL error (gone, being restored, bad
    # credentials, shutting down: asyncpg raises a PostgresError, not an OSError)
    missing = make_url(region_databases["IN"]).set(database="gw_res_no_such_db")
    gateway = await gateway_factory(
        {"GB": region_databases["GB"], "IN": missing.render_as_string(hide_password=False)}
    )
    # when a UK invoice is paid
    body = await pay_answer(gateway.client, gateway.token, "gb-err", GB_OPEN_INVOICE_ID)
    # then it is paid (today: an INTERNAL error for every mutation of every region)
    assert "errors" not in body, body
    assert codes(body["data"]["payInvoice"]) == []


async def test_a_key_reused_for_another_region_s_invoice_is_refused_while_its_region_is_down(
    region_databases: dict[str, str], gateway_factory: GatewayFactory
) -> None:
    async with database_behind_hop(region_databases["IN"]) as (proxy, in_url):
        gateway = await gateway_factory({"GB": region_databases["GB"], "IN": in_url})
        # given key K paid an Indian invoice
        first = await pay(
            gateway.client, gateway.token, "K", IN_OPEN_INVOICE_ID, amount_minor=100, currency="INR"
        )
        assert codes(first) == [], first
        # when India's database goes down and K is sent again for a UK invoice
        proxy.set("refuse")
        again = await pay(gateway.client, gateway.token, "K", GB_OPEN_INVOICE_ID, amount_minor=100)
        # then it is refused as a reused key, as with one database, and the UK invoice is
        # left free (today: K is claimed anew in GB, its derived charge key meets the
        # Indian body -> payments 422 -> the saga pauses at `charging` for ever, holding
        # the UK invoice's payment lock, and the caller is told DOWNSTREAM_UNAVAILABLE)
        gb = gateway.engines["GB"]
        assert gb is not None
        locks = await lock_rows(gb)
        # and another key can pay the UK invoice (today: PAYMENT_IN_PROGRESS, for ever)
        other = await pay(gateway.client, gateway.token, "K-other", GB_OPEN_INVOICE_ID)
        assert (codes(again), locks, codes(other)) == (["IDEMPOTENCY_KEY_REUSED"], [], [])


async def test_concurrent_requests_with_one_key_for_two_regions_run_only_one(
    region_databases: dict[str, str], gateway_factory: GatewayFactory
) -> None:
    gateway = await gateway_factory(region_databases)
    # when the same key is sent at once for an Indian and a UK invoice
    answers = await asyncio.gather(
        pay(
            gateway.client,
            gateway.token,
            "K2",
            IN_OPEN_INVOICE_ID,
            amount_minor=100,
            currency="INR",
        ),
        pay(gateway.client, gateway.token, "K2", GB_OPEN_INVOICE_ID, amount_minor=100),
    )
    # then one runs, the other is refused as reused or in use (as with one database)
    found = sorted(tuple(codes(a)) for a in answers)
    assert found[0] == (), found
    assert found[1] in (("IDEMPOTENCY_KEY_REUSED",), ("IDEMPOTENCY_KEY_IN_USE",)), found


CUSTOMER = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
  customer { id } userErrors { code } } }"""


async def test_a_single_step_key_reused_for_another_region_s_business_is_refused_as_reused(
    region_databases: dict[str, str], gateway_factory: GatewayFactory
) -> None:
    async with database_behind_hop(region_databases["IN"]) as (proxy, in_url):
        gateway = await gateway_factory({"GB": region_databases["GB"], "IN": in_url})

        async def customer(business: str) -> list[str]:
            response = await gateway.client.post(
                "/graphql",
                json={
                    "query": CUSTOMER,
                    "variables": {
                        "input": {"idempotencyKey": "C", "businessId": business, "name": "A"}
                    },
                },
                headers={"Authorization": f"Bearer {gateway.token}"},
            )
            payload = response.json()["data"]["createCustomer"]
            return codes(payload)

        # given key C created an Indian business's customer
        assert await customer(IN_BUSINESS_ID) == []
        # when India's database is down and C is sent for a UK business, twice
        proxy.set("refuse")
        first, retried = await customer(GB_BUSINESS_ID), await customer(GB_BUSINESS_ID)
        # then both are refused as a reused key, and only the first customer was created
        assert (first, retried) == (["IDEMPOTENCY_KEY_REUSED"], ["IDEMPOTENCY_KEY_REUSED"])
        assert len(await gateway.invoicing.posts("/v1/customers")) == 2  # the 422 included
        proxy.set("up")


class _RefusedError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


async def test_a_hung_region_database_delays_the_start_by_the_connect_timeout_at_most(
    region_databases: dict[str, str], gateway_factory: GatewayFactory
) -> None:
    async with database_behind_hop(region_databases["IN"]) as (proxy, in_url):
        # given India's database accepts no connection (a partition) as the gateway starts
        proxy.set("hang")
        started = time.monotonic()
        # when it starts (the table feed reads each region's end of domain_events)
        await gateway_factory({"GB": region_databases["GB"], "IN": in_url})
        # then it is up within the connect timeout, not asyncpg's default 60 s
        assert time.monotonic() - started < CONNECT_TIMEOUT_SECONDS + 5
        proxy.set("up")


@pytest.mark.parametrize(
    ("sqlstate", "unreachable"),
    [
        ("57P03", True),  # cannot connect now: starting up or shutting down
        ("57P01", True),  # admin shutdown: a restart took the connection
        ("53300", True),  # too many connections
        ("3D000", True),  # the database is gone
        ("28P01", True),  # credentials refused
        ("08006", True),  # connection failure
        ("23505", False),  # a unique violation is a statement refused, not a region down
        ("42P01", False),  # an undefined table is a bug (unmigrated), not a region down
    ],
)
def test_a_database_that_will_not_serve_is_unreachable_a_refused_statement_is_not(
    sqlstate: str, unreachable: bool
) -> None:
    error = DBAPIError("SELECT 1", None, _RefusedError(sqlstate))
    assert is_unreachable(error) is unreachable


def test_a_full_pool_is_unreachable() -> None:
    assert is_unreachable(PoolTimeoutError("QueuePool limit reached"))
