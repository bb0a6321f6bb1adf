"""Single flight end to end (app/downstream/coalesce.py): concurrent dashboards over slow
services share their identical reads, and each gets the answer it gets alone."""

from __future__ import annotations

import asyncio

import httpx

from app.auth.principal import Role
from app.levers import Levers
from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.conftest import Downstreams, GatewayFactory, TokenFactory
from tests.e2e.test_dashboard import run_dashboard


class Slow(httpx.AsyncBaseTransport):
    """The sandbox, 0.2 s away: long enough for the other request's read to start."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.2)
        return await self._inner.handle_async_request(request)


async def calls_made(downstreams: Downstreams) -> int:
    return len(await downstreams.calls("invoicing")) + len(await downstreams.calls("payments"))


async def test_concurrent_dashboards_share_their_reads_and_get_their_own_answers(
    gateway_factory: GatewayFactory, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    slow = {name: Slow(t) for name, t in downstreams.transports().items() if name != "idp"}
    alone = await run_dashboard(
        await gateway_factory(slow, levers=Levers(single_flight=False)),
        token_for([(GB_BUSINESS_ID, Role.OWNER)]),
    )
    before = await calls_made(downstreams)
    gateway = await gateway_factory(slow)
    owner = token_for([(GB_BUSINESS_ID, Role.OWNER)], subject="user_a")
    other = token_for([(GB_BUSINESS_ID, Role.OWNER)], subject="user_b")

    # when two callers ask for the same dashboard at once
    first, second = await asyncio.gather(
        run_dashboard(gateway, owner), run_dashboard(gateway, other)
    )

    # then each got the answer one request alone gets, from one set of reads
    assert first == second == alone
    assert await calls_made(downstreams) - before == 6
