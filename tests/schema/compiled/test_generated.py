"""Generated documents over the real schema answer the same on compiled plans as on
graphql-core's executor, against the sandbox's data, with and without injected
downstream failures (one service answering 404 to some reads: resolver errors, nulls
bubbling through non-null fields). `COMPILED_EXAMPLES` sets how many documents
(default 5 for `make test`; `make test-compiled` runs 300)."""

from __future__ import annotations

import os

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import queries

from app.auth.principal import Role
from app.levers import Levers
from app.schema.versioning import current_sdl
from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.conftest import Downstreams, GatewayFactory, TokenFactory, graphql
from tests.schema.compiled.test_known_documents import GENEROUS, _ordered

EXAMPLES = int(os.environ.get("COMPILED_EXAMPLES", "5"))


def _documents(count: int) -> list[str]:
    found: list[str] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def collect(data: st.DataObject) -> None:
        found.append(data.draw(queries(current_sdl())))

    collect()
    return found


class _FailingReads(httpx.AsyncBaseTransport):
    """The payments service, except that refunds and payment methods are not found."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith(("/v1/refunds", "/v1/payment_methods")):
            return httpx.Response(404, json={"error": {"code": "not_found"}})
        return await self._inner.handle_async_request(request)


@pytest.mark.parametrize("failing", [False, True], ids=["healthy", "failing"])
async def test_generated_documents_answer_as_graphql_core_does(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    failing: bool,
) -> None:
    transports = (
        {"payments": _FailingReads(downstreams.transports()["payments"])} if failing else None
    )
    compiled = await gateway_factory(transports, levers=Levers(), **GENEROUS)
    reference = await gateway_factory(transports, levers=Levers(lean_executor=False), **GENEROUS)
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    for document in _documents(EXAMPLES):
        answers = []
        for gateway in (compiled, compiled, reference):
            response = await graphql(gateway, document, token)
            answers.append((response.status_code, _ordered(response.content)))
        assert answers[0] == answers[2], document
        assert answers[1] == answers[2], document
