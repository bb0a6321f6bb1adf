"""Persisted queries at the /graphql door, in production settings: Apollo's automatic
persisted queries (the default), `off`, and trusted documents (`required`), where only a
client's manifest runs. Every refusal is typed, and no refused document reaches a
downstream service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth.principal import Role
from app.persisted import document_hash
from app.persisted.manifest import ManifestError
from sandbox.seed import GB_BUSINESS_ID
from tests.clock import FakeClock
from tests.e2e.conftest import Downstreams, GatewayFactory, TokenFactory
from tests.e2e.rate_limit_helpers import (
    BUSINESS_QUERY,
    BUSINESS_VARIABLES,
    downstream_calls,
    rate_limited,
)

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "clients" / "manifest.json"
DASHBOARD = (REPO / "clients" / "web" / "Dashboard.graphql").read_text(encoding="utf-8")
INVOICE_LIST = (REPO / "clients" / "mobile" / "InvoiceList.graphql").read_text(encoding="utf-8")


def error(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


NOT_FOUND = error("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
NOT_SUPPORTED = error("PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported")
HASH_MISMATCH = error("PERSISTED_QUERY_HASH_MISMATCH", "The query's sha256 is not its sha256Hash.")
INVALID = error(
    "PERSISTED_QUERY_INVALID",
    "extensions.persistedQuery must be {version: 1, sha256Hash: 64 lowercase hex digits}.",
)
REQUIRED = error(
    "PERSISTED_QUERY_REQUIRED",
    "Only persisted queries run here: send extensions.persistedQuery.sha256Hash of a"
    " document from your client's manifest.",
)
UNKNOWN_CLIENT = error(
    "PERSISTED_QUERY_NOT_ALLOWED",
    "Name a known client in the apollographql-client-name header to run its persisted queries.",
)


def not_in_manifest(client: str) -> dict[str, Any]:
    return error(
        "PERSISTED_QUERY_NOT_ALLOWED", f"This document is not in the {client} client's manifest."
    )


@pytest.fixture
def owner(token_for: TokenFactory) -> str:
    return token_for([(GB_BUSINESS_ID, Role.OWNER)])


async def send(
    gateway: httpx.AsyncClient,
    token: str,
    *,
    query: str | None = None,
    sha256: str | None = None,
    variables: dict[str, Any] | None = None,
    client: str | None = None,
    extensions: dict[str, Any] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"variables": variables or {}}
    if query is not None:
        body["query"] = query
    if sha256 is not None:
        body["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": sha256}}
    if extensions is not None:
        body["extensions"] = extensions
    headers = {"Authorization": f"Bearer {token}"}
    if client is not None:
        headers["apollographql-client-name"] = client
    return await gateway.post("/graphql", json=body, headers=headers)


def answer(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


BUSINESS_DATA = {"data": {"business": {"id": GB_BUSINESS_ID, "name": "Northwind Studio Ltd"}}}


# -- automatic persisted queries (the default) ------------------------------------------


async def test_apq_an_unknown_hash_is_not_found_and_runs_nothing(
    gateway: httpx.AsyncClient, owner: str, downstreams: Downstreams
) -> None:
    response = await send(
        gateway, owner, sha256=document_hash(BUSINESS_QUERY), variables=BUSINESS_VARIABLES
    )

    assert answer(response) == (200, NOT_FOUND)
    assert await downstream_calls(downstreams) == []


async def test_apq_the_document_sent_with_its_hash_runs_and_is_then_known_by_hash(
    gateway: httpx.AsyncClient, owner: str
) -> None:
    sha256 = document_hash(BUSINESS_QUERY)

    registered = await send(
        gateway, owner, query=BUSINESS_QUERY, sha256=sha256, variables=BUSINESS_VARIABLES
    )
    by_hash = await send(gateway, owner, sha256=sha256, variables=BUSINESS_VARIABLES)

    assert answer(registered) == (200, BUSINESS_DATA)
    assert answer(by_hash) == (200, BUSINESS_DATA)


async def test_apq_a_document_that_is_not_its_hash_is_refused_and_not_stored(
    gateway: httpx.AsyncClient, owner: str, downstreams: Downstreams
) -> None:
    claimed = document_hash("{ viewer { id } }")

    mismatch = await send(
        gateway, owner, query=BUSINESS_QUERY, sha256=claimed, variables=BUSINESS_VARIABLES
    )
    later = await send(gateway, owner, sha256=claimed)

    assert answer(mismatch) == (400, HASH_MISMATCH)
    assert answer(later) == (200, NOT_FOUND)
    assert await downstream_calls(downstreams) == []


@pytest.mark.parametrize(
    "persisted",
    [
        {"version": 2, "sha256Hash": document_hash(BUSINESS_QUERY)},
        {"version": True, "sha256Hash": document_hash(BUSINESS_QUERY)},
        {"sha256Hash": document_hash(BUSINESS_QUERY)},
        {"version": 1, "sha256Hash": document_hash(BUSINESS_QUERY).upper()},
        {"version": 1, "sha256Hash": "abc"},
        {"version": 1, "sha256Hash": 42},
        "yes",
    ],
)
async def test_apq_a_malformed_persisted_query_extension_is_refused(
    gateway: httpx.AsyncClient, owner: str, downstreams: Downstreams, persisted: object
) -> None:
    response = await send(
        gateway,
        owner,
        query=BUSINESS_QUERY,
        variables=BUSINESS_VARIABLES,
        extensions={"persistedQuery": persisted},
    )

    assert answer(response) == (400, INVALID)
    assert await downstream_calls(downstreams) == []


async def test_apq_the_store_keeps_only_the_most_recently_used_documents(
    gateway_factory: GatewayFactory, owner: str
) -> None:
    gateway = await gateway_factory(persisted_queries_cache_size=2)
    documents = [f"query Q{n} {{ viewer {{ id }} }}" for n in range(3)]
    for document in documents:
        await send(gateway, owner, query=document, sha256=document_hash(document))

    statuses = [
        (await send(gateway, owner, sha256=document_hash(document))).json()
        for document in documents
    ]

    assert statuses == [
        NOT_FOUND,
        {"data": {"viewer": {"id": "user_test"}}},
        {"data": {"viewer": {"id": "user_test"}}},
    ]


async def test_apq_a_document_over_the_size_cap_runs_but_is_not_stored(
    gateway_factory: GatewayFactory, owner: str
) -> None:
    gateway = await gateway_factory(persisted_queries_max_bytes=len(BUSINESS_QUERY) - 1)
    sha256 = document_hash(BUSINESS_QUERY)

    ran = await send(
        gateway, owner, query=BUSINESS_QUERY, sha256=sha256, variables=BUSINESS_VARIABLES
    )
    later = await send(gateway, owner, sha256=sha256, variables=BUSINESS_VARIABLES)

    assert answer(ran) == (200, BUSINESS_DATA)
    assert answer(later) == (200, NOT_FOUND)


async def test_apq_a_hash_lookup_costs_a_token_like_any_request(
    gateway_factory: GatewayFactory, owner: str
) -> None:
    gateway = await gateway_factory(rate_limit_capacity=1, rate_limit_refill_per_second=0.01)

    missing = await send(gateway, owner, sha256=document_hash(BUSINESS_QUERY))
    limited = await send(gateway, owner, sha256=document_hash(BUSINESS_QUERY))

    assert answer(missing) == (200, NOT_FOUND)
    assert answer(limited) == (429, rate_limited(100))


# -- off -----------------------------------------------------------------------------


async def test_off_persisted_queries_are_not_supported_but_documents_run(
    gateway_factory: GatewayFactory, owner: str, downstreams: Downstreams
) -> None:
    gateway = await gateway_factory(persisted_queries="off")

    refused = await send(
        gateway,
        owner,
        query=BUSINESS_QUERY,
        sha256=document_hash(BUSINESS_QUERY),
        variables=BUSINESS_VARIABLES,
    )
    assert answer(refused) == (200, NOT_SUPPORTED)
    assert await downstream_calls(downstreams) == []

    plain = await send(gateway, owner, query=BUSINESS_QUERY, variables=BUSINESS_VARIABLES)
    assert answer(plain) == (200, BUSINESS_DATA)


# -- required: trusted documents per client ------------------------------------------


@pytest.fixture
async def trusted(gateway_factory: GatewayFactory) -> httpx.AsyncClient:
    return await gateway_factory(
        persisted_queries="required", persisted_queries_manifest=str(MANIFEST)
    )


DASHBOARD_VARIABLES = {"id": GB_BUSINESS_ID, "first": 2}


async def test_required_a_manifest_document_runs_by_hash_for_its_client(
    trusted: httpx.AsyncClient, owner: str
) -> None:
    response = await send(
        trusted, owner, sha256=document_hash(DASHBOARD), variables=DASHBOARD_VARIABLES, client="web"
    )

    status, body = answer(response)
    assert status == 200
    assert "errors" not in body
    assert body["data"]["business"]["id"] == GB_BUSINESS_ID
    assert len(body["data"]["business"]["invoices"]["edges"]) == 2


async def test_required_a_manifest_document_sent_in_full_with_its_hash_runs(
    trusted: httpx.AsyncClient, owner: str
) -> None:
    response = await send(
        trusted,
        owner,
        query=INVOICE_LIST,
        sha256=document_hash(INVOICE_LIST),
        variables=DASHBOARD_VARIABLES,
        client="mobile",
    )

    assert response.status_code == 200
    assert [
        e["node"]["id"][:4] for e in response.json()["data"]["business"]["invoices"]["edges"]
    ] == [
        "inv_",
        "inv_",
    ]


async def test_required_a_valid_free_text_document_is_refused(
    trusted: httpx.AsyncClient, owner: str, downstreams: Downstreams
) -> None:
    for client in ("web", "mobile", None):
        response = await send(
            trusted, owner, query=DASHBOARD, variables=DASHBOARD_VARIABLES, client=client
        )
        assert answer(response) == (400, REQUIRED)
    assert await downstream_calls(downstreams) == []


async def test_required_a_mobile_only_document_is_refused_for_web(
    trusted: httpx.AsyncClient, owner: str, downstreams: Downstreams
) -> None:
    sha256 = document_hash(INVOICE_LIST)

    by_hash = await send(trusted, owner, sha256=sha256, variables=DASHBOARD_VARIABLES, client="web")
    in_full = await send(
        trusted,
        owner,
        query=INVOICE_LIST,
        sha256=sha256,
        variables=DASHBOARD_VARIABLES,
        client="web",
    )

    assert answer(by_hash) == (400, not_in_manifest("web"))
    assert answer(in_full) == (400, not_in_manifest("web"))
    assert await downstream_calls(downstreams) == []


async def test_required_a_document_in_no_manifest_is_refused_even_with_its_right_hash(
    trusted: httpx.AsyncClient, owner: str, downstreams: Downstreams
) -> None:
    response = await send(
        trusted,
        owner,
        query=BUSINESS_QUERY,
        sha256=document_hash(BUSINESS_QUERY),
        variables=BUSINESS_VARIABLES,
        client="web",
    )
    # Not remembered either: by hash alone it is still refused.
    again = await send(trusted, owner, sha256=document_hash(BUSINESS_QUERY), client="web")

    assert answer(response) == (400, not_in_manifest("web"))
    assert answer(again) == (400, not_in_manifest("web"))
    assert await downstream_calls(downstreams) == []


@pytest.mark.parametrize("client", [None, "partner", "WEB", ""])
async def test_required_an_unknown_or_missing_client_runs_nothing(
    trusted: httpx.AsyncClient, owner: str, downstreams: Downstreams, client: str | None
) -> None:
    response = await send(
        trusted,
        owner,
        sha256=document_hash(DASHBOARD),
        variables=DASHBOARD_VARIABLES,
        client=client,
    )

    assert answer(response) == (400, UNKNOWN_CLIENT)
    assert await downstream_calls(downstreams) == []


async def test_required_refusals_are_charged_to_the_callers_budget(
    gateway_factory: GatewayFactory, owner: str
) -> None:
    gateway = await gateway_factory(
        persisted_queries="required",
        persisted_queries_manifest=str(MANIFEST),
        rate_limit_capacity=2,
        rate_limit_refill_per_second=0.01,
    )

    statuses = [
        (await send(gateway, owner, query="{ viewer { id } }", client="web")).status_code
        for _ in range(3)
    ]

    assert statuses == [400, 400, 429]


async def test_a_manifest_whose_hash_does_not_match_its_document_stops_the_start(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    sha256 = document_hash(DASHBOARD)
    manifest["web"][sha256] = DASHBOARD.replace("vatNumber", "")
    tampered = tmp_path / "manifest.json"
    tampered.write_text(json.dumps(manifest), encoding="utf-8")

    with pytest.raises(ManifestError, match=f"web: {sha256} is not its document's hash"):
        await gateway_factory(
            persisted_queries="required", persisted_queries_manifest=str(tampered)
        )


async def test_apq_a_document_sent_over_the_rate_limit_is_not_stored(
    gateway_factory: GatewayFactory, owner: str
) -> None:
    clock = FakeClock()
    gateway = await gateway_factory(
        clock=clock, rate_limit_capacity=1, rate_limit_refill_per_second=1
    )
    sha256 = document_hash(BUSINESS_QUERY)
    await send(gateway, owner, query="{ viewer { id } }")

    limited = await send(gateway, owner, query=BUSINESS_QUERY, sha256=sha256)
    clock.advance(1)
    later = await send(gateway, owner, sha256=sha256)

    assert answer(limited) == (429, rate_limited(1))
    assert answer(later) == (200, NOT_FOUND)
