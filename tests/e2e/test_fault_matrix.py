"""Issue 5's fault matrix, through the whole gateway in production settings. For each
fault of the payments service: the answer's HTTP status, codes and partial data; how
many attempts reached the service; the time to answer against the budget; and that
nothing of the downstream leaks. Then the breaker opening and recovering."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.auth.principal import Role
from app.downstream.service import SERVICE_LIMITS
from app.downstream.transport import ServiceTransport
from sandbox.seed import BUSINESSES, GB_BUSINESS_ID, GB_OPEN_INVOICE_ID
from tests.e2e.conftest import Downstreams, GatewayFactory, TokenFactory, graphql
from tests.e2e.test_downstream_faults import assert_nothing_leaks, error, inject

Json = dict[str, Any]
GB_NAME = next(b.name for b in BUSINESSES if b.id == GB_BUSINESS_ID)
QUERY = f'{{ business(id: "{GB_BUSINESS_ID}") {{ name balance {{ available {{ amount }} }} }} }}'
BALANCES = "/v1/balances"
BUDGET = 2.0
# The gateway's own net: the budget plus the time to write the answer (app/http/endpoint.py).
ANSWER_BOUND = BUDGET + 0.5
METRICS_TOKEN = "metrics-test-token"
OPERATOR = {"Authorization": f"Bearer {METRICS_TOKEN}"}
CALLS = "gateway_downstream_calls_total"
ON_BALANCES = {"service": "payments", "route": BALANCES}
BREAKER = "gateway_circuit_breaker_state"
TRANSITIONS = "gateway_circuit_breaker_transitions_total"
UNAVAILABLE = "The payments service is unavailable."
TIMED_OUT = "The payments service did not answer in time."
BUSY = "The payments service is busy; retry later."
INVALID = "The payments service gave an answer that breaks its contract."


@dataclass(frozen=True)
class Case:
    faults: Json
    attempts: int
    code: str | None  # None: the retries hid the fault and the answer is complete
    message: str = UNAVAILABLE
    extra: tuple[tuple[str, object], ...] = ()
    at_least_seconds: float = 0.0


CASES = {
    "500-not-resent": Case({"fail_next": 9, "fail_status": 500}, 1, "DOWNSTREAM_UNAVAILABLE"),
    "502-resent-until-attempts-run-out": Case(
        {"fail_next": 9, "fail_status": 502}, 3, "DOWNSTREAM_UNAVAILABLE"
    ),
    "503-once-hidden-by-a-resend": Case({"fail_next": 1, "fail_status": 503}, 2, None),
    "503-retry-after-1-waited-out": Case(
        {"fail_next": 1, "fail_status": 503, "retry_after": 1}, 2, None, at_least_seconds=1.0
    ),
    "503-retry-after-30-handed-to-the-client": Case(
        {"fail_next": 9, "fail_status": 503, "retry_after": 30},
        1,
        "DOWNSTREAM_UNAVAILABLE",
        extra=(("retryAfterSeconds", 30),),
    ),
    "429-retry-after-1-waited-out": Case(
        {"fail_next": 1, "fail_status": 429, "retry_after": 1}, 2, None, at_least_seconds=1.0
    ),
    "429-retry-after-30-handed-to-the-client": Case(
        {"fail_next": 9, "fail_status": 429, "retry_after": 30},
        1,
        "RATE_LIMITED",
        BUSY,
        (("retryAfterSeconds", 30),),
    ),
    "504-resent-then-a-timeout": Case(
        {"fail_next": 9, "fail_status": 504}, 3, "DOWNSTREAM_TIMEOUT", TIMED_OUT
    ),
    "slow-past-the-budget": Case({"latency_ms": 5000}, 1, "DOWNSTREAM_TIMEOUT", TIMED_OUT),
    "hang": Case({"hang_next": 1}, 1, "DOWNSTREAM_TIMEOUT", TIMED_OUT),
    # The service answered, but not as its contract says: not resent, not "unavailable".
    "malformed-json": Case({"malformed_next": 9}, 1, "DOWNSTREAM_INVALID_RESPONSE", INVALID),
    "wrong-types": Case({"invalid_next": 9}, 1, "DOWNSTREAM_INVALID_RESPONSE", INVALID),
    "external-redirect": Case(
        {"redirect_next": 9, "redirect_to": "https://attacker.example/collect"},
        1,
        "DOWNSTREAM_INVALID_RESPONSE",
        INVALID,
    ),
}


def expected_answer(case: Case) -> Json:
    return {
        "data": {"business": {"name": GB_NAME, "balance": None}},
        "errors": [
            error(
                QUERY,
                "balance",
                ["business", "balance"],
                case.message,
                code=case.code,
                **dict(case.extra),
            )
        ],
    }


async def balance_calls(downstreams: Downstreams) -> int:
    return sum(1 for call in await downstreams.calls("payments") if call["path"] == BALANCES)


async def metric(gateway: httpx.AsyncClient, name: str, **labels: str) -> float:
    """Sum of the samples of `name` carrying all of `labels`."""
    text = (
        await gateway.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    ).text
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(label in line for label in wanted):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.parametrize("name", list(CASES))
async def test_each_fault_is_answered_in_time_with_its_code_and_partial_data(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    name: str,
) -> None:
    case = CASES[name]
    # given a production gateway with a 2 s budget and a faulty payments service
    gateway = await gateway_factory(request_timeout_seconds=BUDGET, metrics_token=METRICS_TOKEN)
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    await inject(downstreams, "payments", path_prefix=BALANCES, **case.faults)

    # when the business and its balance are read
    started = time.monotonic()
    response = await graphql(gateway, QUERY, token)
    elapsed = time.monotonic() - started

    # then: HTTP 200, the fault's code at the balance only, the name still there
    assert response.status_code == 200
    body = response.json()
    if case.code is None:
        assert "errors" not in body, body
        assert body["data"]["business"]["name"] == GB_NAME
        assert body["data"]["business"]["balance"]["available"]
    else:
        assert body == expected_answer(case)
    # and exactly the attempts the policy allows reached the service
    assert await balance_calls(downstreams) == case.attempts
    assert await metric(gateway, CALLS, **ON_BALANCES) == case.attempts
    # within the budget, after any Retry-After it honoured
    assert case.at_least_seconds <= elapsed < ANSWER_BOUND
    assert_nothing_leaks(response)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_refused_connection_is_resent_then_unavailable(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    # given a payments service whose port nobody listens on (real sockets, loopback http,
    # the transport the gateway ships with)
    gateway = await gateway_factory(
        transports={"payments": ServiceTransport(SERVICE_LIMITS, connect_seconds=2)},
        payments_url=f"http://127.0.0.1:{closed_port()}",
        request_timeout_seconds=BUDGET,
        metrics_token=METRICS_TOKEN,
    )
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    started = time.monotonic()
    response = await graphql(gateway, QUERY, token)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.json() == expected_answer(Case({}, 3, "DOWNSTREAM_UNAVAILABLE"))
    assert await metric(gateway, CALLS, outcome="unavailable", status="none", **ON_BALANCES) == 3
    retries = await metric(
        gateway,
        "gateway_downstream_retries_total",
        service="payments",
        reason="DownstreamUnavailableError",
    )
    assert retries == 2
    assert elapsed < ANSWER_BOUND
    assert_nothing_leaks(response)


async def test_the_breaker_opens_fails_fast_and_recovers(
    gateway_factory: GatewayFactory, downstreams: Downstreams, token_for: TokenFactory
) -> None:
    # given a breaker opening after 2 failures for 1 s, and a payments service failing
    gateway = await gateway_factory(
        breaker_failure_threshold=2,
        breaker_open_seconds=1,
        metrics_token=METRICS_TOKEN,
    )
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    await inject(downstreams, "payments", path_prefix=BALANCES, fail_next=99, fail_status=500)

    # when two reads fail, the circuit opens
    for _ in range(2):
        failed = (await graphql(gateway, QUERY, token)).json()
        assert failed["errors"][0]["extensions"] == {"code": "DOWNSTREAM_UNAVAILABLE"}
    ready = (await gateway.get("/readyz", headers=OPERATOR)).json()
    assert ready["circuits"] == {"invoicing": "closed", "payments": "open"}
    assert await metric(gateway, BREAKER, service="payments") == 2

    # then the next read is refused without a call, told when to come back
    calls_before = await balance_calls(downstreams)
    refused = await graphql(gateway, QUERY, token)
    assert refused.json() == expected_answer(
        Case({}, 0, "DOWNSTREAM_UNAVAILABLE", extra=(("retryAfterSeconds", 1),))
    )
    assert await balance_calls(downstreams) == calls_before

    # and once the wait is over and the service healthy, one trial closes it again
    await inject(downstreams, "payments")
    await asyncio.sleep(1.05)
    assert await metric(gateway, BREAKER, service="payments") == 1
    healed = (await graphql(gateway, QUERY, token)).json()
    assert "errors" not in healed, healed
    assert (await gateway.get("/readyz", headers=OPERATOR)).json()["circuits"][
        "payments"
    ] == "closed"
    for state in ("open", "half_open", "closed"):
        assert await metric(gateway, TRANSITIONS, service="payments", state=state) == 1


async def test_a_payment_with_the_circuit_open_reports_it_and_charges_nothing(
    gateway_factory: GatewayFactory, downstreams: Downstreams, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(breaker_failure_threshold=1, breaker_open_seconds=30)
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    await inject(downstreams, "payments", path_prefix=BALANCES, fail_next=1, fail_status=500)
    await graphql(gateway, QUERY, token)  # opens the payments circuit

    mutation = (
        "mutation($input: PayInvoiceInput!) { payInvoice(input: $input) "
        "{ payment { id } userErrors { code message } } }"
    )
    answer = await graphql(
        gateway,
        mutation,
        token,
        {
            "input": {
                "invoiceId": GB_OPEN_INVOICE_ID,
                "idempotencyKey": "circuit-open-1",
                "paymentMethod": "pm_card_ok",
            }
        },
    )

    body = answer.json()
    assert answer.status_code == 200
    assert body["data"]["payInvoice"]["payment"] is None
    assert [e["code"] for e in body["data"]["payInvoice"]["userErrors"]] == [
        "DOWNSTREAM_UNAVAILABLE"
    ]
    posts = [c for c in await downstreams.calls("payments") if c["method"] == "POST"]
    assert posts == []
