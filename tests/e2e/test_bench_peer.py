"""The benchmark's Apollo peer does the gateway's job: the same answers to the read
scenarios with exactly the minimal downstream calls, the same refusals (no token, another
business, a viewer's guarded fields). The peer runs as `make bench` runs it (Node, against
the sandboxes and identity provider as processes); the gateway in-process against the same
seed. Skipped where Node or the peer's packages are missing (bench/peer.py says which)."""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth.principal import Role
from bench import peer
from bench.procs import Processes
from bench.scenarios import DASHBOARD, SCENARIOS, check_answer, normalised_call
from bench.stack import AUDIENCE, ISSUER, Cpus, Server, Stack
from sandbox.devkeys import mint_token
from sandbox.seed import GB_BUSINESS_ID, IN_BUSINESS_ID
from tests.e2e.conftest import TokenFactory, graphql

# CI installs Node's packages for the peer (REQUIRE_NODE_PEER=1): there a missing peer is
# a failure, not a skip.
_PROBLEM = peer.node_problem()
if _PROBLEM is not None and os.environ.get("REQUIRE_NODE_PEER") == "1":
    raise RuntimeError(f"REQUIRE_NODE_PEER=1 but the Apollo peer cannot run: {_PROBLEM}")
pytestmark = pytest.mark.skipif(_PROBLEM is not None, reason=f"Apollo peer: {_PROBLEM}")


class Running:
    def __init__(self, stack: Stack, server: Server) -> None:
        self.stack = stack
        self.server = server

    def token(self, memberships: list[tuple[str, Role]]) -> str:
        return mint_token(
            self.stack.private_key,
            issuer=ISSUER,
            audience=AUDIENCE,
            subject="peer_test",
            memberships=memberships,
        )

    def ask(self, query: str, variables: dict[str, Any], token: str | None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(  # noqa: S310 - loopback URL
            f"http://127.0.0.1:{self.server.port}/graphql",
            data=json.dumps({"query": query, "variables": variables}).encode(),
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def calls(self) -> Counter[str]:
        return Counter(normalised_call(c["method"], c["path"]) for c in self.stack.calls())


@pytest.fixture(scope="module")
def apollo() -> Iterator[Running]:
    with tempfile.TemporaryDirectory(prefix="peer-test-") as work:
        processes = Processes(Path(work))
        try:
            stack = Stack(processes, Path(work), Cpus(None, None, None), 0, cache=False)
            stack.start_downstreams()
            yield Running(stack, stack.start_peer())
        finally:
            processes.stop_all()


def _errors(answer: dict[str, Any]) -> list[tuple[tuple[Any, ...], Any]]:
    return sorted(
        (tuple(e.get("path", ())), e.get("extensions", {}).get("code"))
        for e in answer.get("errors", [])
    )


@pytest.mark.parametrize("key", ["a", "b", "c"])
async def test_the_peer_answers_each_read_scenario_as_the_gateway_does_with_minimal_calls(
    key: str, apollo: Running, gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    scenario = SCENARIOS[key]
    from_gateway = await graphql(
        gateway, scenario.query, token_for([(GB_BUSINESS_ID, Role.OWNER)]), scenario.variables
    )
    apollo.stack.reset_calls()

    status, answer = apollo.ask(
        scenario.query, scenario.variables, apollo.token([(GB_BUSINESS_ID, Role.OWNER)])
    )

    check_answer(scenario, status, answer)
    assert peer.data_difference(from_gateway.json()["data"], answer["data"]) is None
    assert apollo.calls() == scenario.minimal_calls


async def test_a_viewer_gets_the_gateways_answer_with_the_guarded_fields_refused(
    apollo: Running, gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    variables = {"id": GB_BUSINESS_ID, "first": 3}
    from_gateway = (
        await graphql(
            gateway, DASHBOARD.query, token_for([(GB_BUSINESS_ID, Role.VIEWER)]), variables
        )
    ).json()

    status, answer = apollo.ask(
        DASHBOARD.query, variables, apollo.token([(GB_BUSINESS_ID, Role.VIEWER)])
    )

    assert status == 200
    business = answer["data"]["business"]
    assert business["viewerRole"] == "VIEWER"
    assert business["balance"] is None
    assert business["invoices"]["edges"][0]["node"]["customer"]["email"] is None
    assert {code for _, code in _errors(answer)} == {"FORBIDDEN"}
    assert peer.data_difference(from_gateway["data"], answer["data"]) is None
    assert _errors(answer) == _errors(from_gateway)


async def test_another_business_does_not_exist_for_the_caller_and_nothing_is_read(
    apollo: Running, gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    variables = {"id": GB_BUSINESS_ID, "first": 3}
    from_gateway = (
        await graphql(
            gateway, DASHBOARD.query, token_for([(IN_BUSINESS_ID, Role.OWNER)]), variables
        )
    ).json()
    apollo.stack.reset_calls()

    status, answer = apollo.ask(
        DASHBOARD.query, variables, apollo.token([(IN_BUSINESS_ID, Role.OWNER)])
    )

    assert status == 200
    assert answer["data"] == from_gateway["data"] == {"business": None}
    assert _errors(answer) == _errors(from_gateway) == [(("business",), "NOT_FOUND")]
    assert apollo.calls() == Counter()


@pytest.mark.parametrize("token", [None, "not.a.token", "forged"])
def test_without_a_valid_token_the_peer_answers_401(apollo: Running, token: str | None) -> None:
    if token == "forged":
        # Signed by another key than the run's identity provider publishes.
        from sandbox.devkeys import load_or_create_private_key

        with tempfile.TemporaryDirectory() as other:
            key = load_or_create_private_key(Path(other) / "k.pem")
        token = mint_token(key, issuer=ISSUER, audience=AUDIENCE, subject="x", memberships=[])

    status, answer = apollo.ask(DASHBOARD.query, DASHBOARD.variables, token)

    assert status == 401
    assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
