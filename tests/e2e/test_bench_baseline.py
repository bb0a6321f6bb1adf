"""The benchmark's baseline answers exactly as the gateway does, with exactly the
minimal downstream calls: otherwise the benchmark's ratios would compare different
work. Both run in-process against the same sandbox apps."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from app.auth.principal import Role
from app.db import migrate
from app.db.engine import create_engine
from bench.baseline import Config, create_baseline_app
from bench.baseline_http import Http
from bench.scenarios import PAY, SCENARIOS, Scenario, check_answer, normalised_call
from sandbox.seed import GB_BUSINESS_ID, IN_BUSINESS_ID, OPEN_INVOICE_IDS
from tests.e2e.conftest import (
    AUDIENCE,
    INVOICING_TOKEN,
    ISSUER,
    PAYMENTS_TOKEN,
    Downstreams,
    GatewayFactory,
    TokenFactory,
)


class HttpxHttp:
    """The baseline's client seam, over httpx, to reach in-process sandboxes."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> tuple[int, bytes]:
        answer = await self._client.request(
            method, url, params=params, headers=headers, content=body
        )
        return answer.status_code, answer.content


def baseline_config(database_url: str | None = None) -> Config:
    return Config(
        invoicing_url="http://invoicing.test",
        invoicing_token=INVOICING_TOKEN,
        payments_url="http://payments.test",
        payments_token=PAYMENTS_TOKEN,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_url="https://idp.test/.well-known/jwks.json",
        database_url=database_url.replace("+asyncpg", "") if database_url else None,
    )


async def start_baseline(
    downstreams: Downstreams, database_url: str | None = None
) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    @asynccontextmanager
    async def clients(_config: Config) -> AsyncIterator[tuple[Http, Http]]:
        transports = downstreams.transports()
        async with (
            httpx.AsyncClient(
                transport=transports["invoicing"],
                headers={"Authorization": f"Bearer {INVOICING_TOKEN}"},
            ) as invoicing,
            httpx.AsyncClient(
                transport=transports["payments"],
                headers={"Authorization": f"Bearer {PAYMENTS_TOKEN}"},
            ) as payments,
        ):
            yield HttpxHttp(invoicing), HttpxHttp(payments)

    app = create_baseline_app(
        baseline_config(database_url), clients, downstreams.transports()["idp"]
    )

    @asynccontextmanager
    async def running() -> AsyncIterator[httpx.AsyncClient]:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://baseline"
            ) as client,
        ):
            yield client

    return running()


async def reset_calls(downstreams: Downstreams) -> None:
    for app, token in (
        (downstreams.invoicing, INVOICING_TOKEN),
        (downstreams.payments, PAYMENTS_TOKEN),
    ):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
        ) as client:
            await client.delete("/_sandbox/calls", headers={"Authorization": f"Bearer {token}"})


async def calls_made(downstreams: Downstreams) -> Counter[str]:
    calls = await downstreams.calls("invoicing") + await downstreams.calls("payments")
    return Counter(normalised_call(c["method"], c["path"]) for c in calls)


async def ask(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], token: str
) -> tuple[int, dict[str, Any]]:
    answer = await client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    parsed: dict[str, Any] = answer.json()
    return answer.status_code, parsed


@pytest.mark.parametrize("key", ["a", "b", "c"])
async def test_the_baseline_answers_each_read_scenario_as_the_gateway_does_with_minimal_calls(
    key: str, gateway: httpx.AsyncClient, downstreams: Downstreams, token_for: TokenFactory
) -> None:
    scenario = SCENARIOS[key]
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    async with await start_baseline(downstreams) as baseline:
        await reset_calls(downstreams)
        status, from_gateway = await ask(gateway, "/graphql", scenario.gateway_body(), token)
        check_answer(scenario, status, from_gateway)
        gateway_calls = await calls_made(downstreams)

        await reset_calls(downstreams)
        status, from_baseline = await ask(
            baseline, scenario.baseline_path, scenario.baseline_body(), token
        )
        check_answer(scenario, status, from_baseline)
        baseline_calls = await calls_made(downstreams)

    assert from_baseline == from_gateway
    assert baseline_calls == scenario.minimal_calls
    assert gateway_calls == scenario.minimal_calls


def pay_variables(scenario: Scenario, key: str, invoice_id: str) -> dict[str, Any]:
    variables: dict[str, Any] = json.loads(json.dumps(scenario.variables))
    variables["input"].update(idempotencyKey=key, invoiceId=invoice_id)
    return variables


def without_ids(answer: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(json.dumps(answer))
    pay = payload["data"]["payInvoice"]
    pay["payment"]["id"] = "pay_*"
    pay["invoice"]["amountDue"] = "*"
    return payload


@pytest.mark.postgres
async def test_the_baseline_pays_an_invoice_as_the_gateway_does_and_replays_by_key(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    postgres_url: str,
) -> None:
    engine = create_engine(postgres_url)
    await migrate.upgrade(engine)
    await engine.dispose()
    gateway = await gateway_factory(database_url=postgres_url)
    token = token_for([(IN_BUSINESS_ID, Role.OWNER)])
    invoice_id = OPEN_INVOICE_IDS[IN_BUSINESS_ID]
    async with await start_baseline(downstreams, postgres_url) as baseline:
        await reset_calls(downstreams)
        status, from_gateway = await ask(
            gateway, "/graphql", PAY.gateway_body(pay_variables(PAY, "g-1", invoice_id)), token
        )
        check_answer(PAY, status, from_gateway)
        gateway_calls = await calls_made(downstreams)

        await reset_calls(downstreams)
        body = PAY.baseline_body(pay_variables(PAY, "b-1", invoice_id))
        status, from_baseline = await ask(baseline, PAY.baseline_path, body, token)
        check_answer(PAY, status, from_baseline)
        baseline_calls = await calls_made(downstreams)
        _, replay = await ask(baseline, PAY.baseline_path, body, token)

    assert without_ids(from_baseline) == without_ids(from_gateway)
    assert baseline_calls == PAY.minimal_calls
    # The gateway reads the invoice twice: once to admit the caller before it claims the
    # key, once fresh under the payment lock; and under the lock the invoice's payments,
    # so that money already on its way is not charged again (the baseline does not
    # look). The benchmark reports the extra calls.
    assert gateway_calls == PAY.minimal_calls + Counter(
        {"GET /v1/invoices": 1, "GET /v1/payments": 1}
    )
    assert replay["data"]["payInvoice"]["replayed"] is True
    assert replay["data"]["payInvoice"]["payment"] == from_baseline["data"]["payInvoice"]["payment"]
