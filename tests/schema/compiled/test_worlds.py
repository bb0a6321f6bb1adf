"""Generated documents (generator.py: deep ones, mostly a business and its invoice
pages) over generated downstream data (tests/e2e/contract_world.py's worlds of
contract-valid objects, served by its fake of both services), with failures injected
per downstream call (a 500, a 404, a timeout, each on one path), answer the same on
compiled plans as on graphql-core's executor. `COMPILED_EXAMPLES` sets how many
(default 5 for `make test`; `make test-compiled` runs 300)."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from app.db import migrate
from app.db.engine import create_engine
from app.levers import Levers
from app.main import create_app
from app.schema.build import build_schema
from tests.e2e.conftest import Downstreams, gateway_settings, graphql
from tests.e2e.contract_world import TODAY, ContractServer, World, worlds
from tests.e2e.test_contract_properties import owner_of
from tests.schema.compiled.generator import documents
from tests.schema.compiled.test_known_documents import _ordered

EXAMPLES = int(os.environ.get("COMPILED_EXAMPLES", "5"))
SCHEMA = build_schema()._schema
PATHS = ["/v1/businesses", "/v1/customers", "/v1/invoices", "/v1/payments", "/v1/refunds"]
PATHS += ["/v1/balances"]
FAILURES = ["500", "404", "timeout"]
# What the examples reached, for `make test-compiled`'s report (-s prints it).
TALLY: Counter[str] = Counter()


class _Failing(httpx.AsyncBaseTransport):
    """The fake services, except that each path in `failures` fails every call its way."""

    def __init__(self, inner: httpx.MockTransport) -> None:
        self.inner = inner
        self.failures: dict[str, str] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        how = self.failures.get(request.url.path)
        if how == "timeout":
            raise httpx.ReadTimeout("injected", request=request)
        if how is not None:
            return httpx.Response(int(how), json={"error": {"code": "injected"}})
        return await self.inner.handle_async_request(request)


Gateways = tuple[httpx.AsyncClient, httpx.AsyncClient, ContractServer, _Failing]


@pytest.fixture
async def gateways(downstreams: Downstreams, tmp_path: Path) -> AsyncIterator[Gateways]:
    server = ContractServer()
    failing = _Failing(server.transport())
    clients = []
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        for name, levers in (("compiled", Levers()), ("reference", Levers(lean_executor=False))):
            url = f"sqlite+aiosqlite:///{tmp_path / name}.db"
            engine = create_engine(url)
            await migrate.upgrade(engine)
            await engine.dispose()
            # One attempt and no breaker: each injected failure is one error, the same
            # on both gateways whatever ran before.
            settings_ = gateway_settings(
                url,
                rate_limit_capacity=1_000_000,
                rate_limit_refill_per_second=1_000_000,
                downstream_max_attempts=1,
                breaker_failure_threshold=1000,
            )
            transports = {**downstreams.transports(), "invoicing": failing, "payments": failing}
            app = create_app(settings_, transports=transports, today=lambda: TODAY, levers=levers)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g")
            clients.append(await stack.enter_async_context(client))
        yield clients[0], clients[1], server, failing


@pytest.fixture(scope="module", autouse=True)
def _report() -> Any:
    """What the generated documents reached (shown with `-s`, as `make test-compiled`
    runs)."""
    yield
    print("\ngenerated documents:", dict(sorted(TALLY.items())))  # noqa: T201


def _tally(answer: Any) -> None:
    body = dict(answer)
    TALLY["documents"] += 1
    codes = {
        dict(dict(error).get("extensions", [])).get("code") for error in body.get("errors", [])
    }
    if body.get("data") is None:
        TALLY[f"refused: {sorted(map(str, codes))}"] += 1
        return
    TALLY["executed"] += 1
    text = json.dumps(answer)
    for deep in ('"node"', '"payments"', '"refunds"', '"customer"', '"paymentMethod"'):
        if deep in text:
            TALLY[f"reached {deep}"] += 1
    if codes:
        TALLY["with field errors"] += 1


@settings(
    max_examples=EXAMPLES,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
# Worlds with invoices (an empty world stops every document at its first page).
@given(world=worlds().filter(lambda world: bool(world.invoices)), data=st.data())
async def test_generated_documents_over_generated_data_answer_as_graphql_core_does(
    gateways: Gateways, signing_key: rsa.RSAPrivateKey, world: World, data: st.DataObject
) -> None:
    # given a world of contract-valid objects, some paths failing, and a deep document
    compiled, reference, server, failing = gateways
    server.world = world
    ids = [*world.ids(), "inv_nope"]
    document = data.draw(documents(SCHEMA, ids))
    # (healthy half the time: failures stop documents short of their deep fields)
    failing.failures = data.draw(
        st.one_of(
            st.just({}),
            st.dictionaries(st.sampled_from(PATHS), st.sampled_from(FAILURES), max_size=2),
        )
    )
    note(document)
    note(repr(failing.failures))
    token = owner_of(signing_key, world)

    # when both gateways answer it (the compiled one twice: building the plan, then from it)
    answers = []
    for gateway in (compiled, compiled, reference):
        response = await graphql(gateway, document, token)
        answers.append((response.status_code, _ordered(response.content)))

    # then the answers are the same, data, errors, paths and order
    assert answers[0] == answers[2]
    assert answers[1] == answers[2]
    _tally(answers[2][1])
