"""Persisted queries by GET with their hash (app/http/persisted_get.py): queries only,
never a mutation; answers for a private cache with an ETag, and a 304 when unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from app.auth.principal import Role
from app.persisted import document_hash
from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.conftest import Downstreams, GatewayFactory, TokenFactory, graphql
from tests.e2e.rate_limit_helpers import BUSINESS_QUERY, downstream_calls

MANIFEST = Path(__file__).resolve().parents[2] / "clients" / "manifest.json"
VIEWER = "query Me { viewer { id } }"
CREATE = (
    "mutation Create($key: String!) { createCustomer(input: {idempotencyKey: $key, "
    f'businessId: "{GB_BUSINESS_ID}", name: "By GET"}}) {{ replayed customer {{ id }} }} }}'
)


def params(document: str, variables: dict[str, Any] | None = None) -> dict[str, str]:
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": document_hash(document)}}
    found = {"extensions": json.dumps(persisted)}
    if variables is not None:
        found["variables"] = json.dumps(variables)
    return found


async def register(
    gateway: httpx.AsyncClient, token: str, document: str, variables: dict[str, Any] | None = None
) -> None:
    """The APQ round: the document and its hash once, by POST."""
    sent = {k: json.loads(v) for k, v in params(document, variables).items()}
    response = await gateway.post(
        "/graphql",
        json={"query": document, **sent},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert "errors" not in response.json()


async def get(
    gateway: httpx.AsyncClient, token: str | None, query: dict[str, str], **headers: str
) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await gateway.get("/graphql", params=query, headers=headers)


async def test_a_registered_query_runs_by_get_for_a_private_cache(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    token = token_for()
    await register(gateway, token, VIEWER)

    response = await get(gateway, token, params(VIEWER))

    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"id": "user_test"}}}
    assert response.headers["cache-control"] == "private, no-cache"
    assert "Authorization" in response.headers["vary"].split(", ")
    assert response.headers["etag"].startswith('W/"')
    assert response.headers["request-cost"] == "1"


async def test_an_unchanged_answer_is_a_304_without_a_body(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    await register(gateway, token, BUSINESS_QUERY, {"id": GB_BUSINESS_ID})
    first = await get(gateway, token, params(BUSINESS_QUERY, {"id": GB_BUSINESS_ID}))
    etag = first.headers["etag"]

    again = await get(
        gateway, token, params(BUSINESS_QUERY, {"id": GB_BUSINESS_ID}), **{"If-None-Match": etag}
    )
    # a strong form of the same tag matches too (weak comparison)
    strong = await get(
        gateway,
        token,
        params(BUSINESS_QUERY, {"id": GB_BUSINESS_ID}),
        **{"If-None-Match": f'"x", {etag.removeprefix("W/")}'},
    )

    assert first.status_code == 200
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "private, no-cache"
    assert again.headers["request-cost"] == first.headers["request-cost"]
    assert strong.status_code == 304


async def test_another_callers_tag_does_not_match_their_own_answer(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    alice = token_for(subject="alice")
    bob = token_for(subject="bob")
    await register(gateway, alice, VIEWER)
    alices = await get(gateway, alice, params(VIEWER))

    bobs = await get(gateway, bob, params(VIEWER), **{"If-None-Match": alices.headers["etag"]})

    assert bobs.status_code == 200
    assert bobs.json() == {"data": {"viewer": {"id": "bob"}}}
    assert bobs.headers["etag"] != alices.headers["etag"]


async def test_a_persisted_mutation_by_get_is_405_and_uses_nothing(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    # given the mutation's hash is known (registered with a harmless first use)
    await register_mutation(gateway, token)
    before = await downstream_calls(downstreams)

    response = await get(gateway, token, params(CREATE, {"key": "k-by-get"}))

    assert response.status_code == 405
    assert response.json() == {
        "errors": [
            {
                "message": "Only queries run by GET; send this with POST.",
                "extensions": {"code": "METHOD_NOT_ALLOWED"},
            }
        ]
    }
    assert await downstream_calls(downstreams) == before
    # and the key was not used: by POST it is a first call
    created = await graphql(gateway, CREATE, token, {"key": "k-by-get"})
    assert created.json()["data"]["createCustomer"]["replayed"] is False


async def register_mutation(gateway: httpx.AsyncClient, token: str) -> None:
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": document_hash(CREATE)}}
    response = await gateway.post(
        "/graphql",
        json={"query": CREATE, "variables": {"key": "k-register"}, "extensions": persisted},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.json()["data"]["createCustomer"]["replayed"] is False


async def test_an_unknown_hash_by_get_is_not_found_and_never_fresh(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    response = await get(gateway, token_for(), params(VIEWER))

    assert response.status_code == 200
    assert response.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    assert "etag" not in response.headers
    assert response.headers["cache-control"] == "private, no-cache"


async def test_malformed_url_parameters_are_400(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    token = token_for()
    bad = [
        {"extensions": "{nope"},
        {"extensions": "[1]"},
        {**params(VIEWER), "variables": "[]"},
        {**params(VIEWER), "variables": "{nope"},
    ]

    answers = [await get(gateway, token, query) for query in bad]

    assert [(a.status_code, a.json()["errors"][0]["extensions"]["code"]) for a in answers] == [
        (400, "BAD_REQUEST")
    ] * 4
    assert [a.json()["errors"][0]["message"] for a in answers] == [
        "`extensions` is not valid JSON.",
        "`extensions` must be an object or null.",
        "`variables` must be an object or null.",
        "`variables` is not valid JSON.",
    ]


async def test_a_document_in_the_url_still_never_runs(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    response = await get(gateway, token, {**params(BUSINESS_QUERY), "query": BUSINESS_QUERY})

    assert response.status_code == 405
    assert await downstream_calls(downstreams) == []


async def test_by_get_needs_a_valid_token(gateway: httpx.AsyncClient) -> None:
    response = await get(gateway, None, params(VIEWER))

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_graphiql_does_not_shadow_a_persisted_get(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    # given development, where GET /graphql with Accept */* would serve the page
    gateway = await gateway_factory(app_env="development")
    token = token_for()
    await register(gateway, token, VIEWER)

    response = await get(gateway, token, params(VIEWER), Accept="*/*")

    assert response.json() == {"data": {"viewer": {"id": "user_test"}}}


async def test_trusted_documents_run_by_get_for_their_client(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(
        persisted_queries="required", persisted_queries_manifest=str(MANIFEST)
    )
    mobile = json.loads(MANIFEST.read_text(encoding="utf-8"))["mobile"]
    viewer_hash = next(h for h, doc in mobile.items() if "query Viewer" in doc)
    query = {
        "extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": viewer_hash}})
    }

    response = await get(gateway, token_for(), query, **{"apollographql-client-name": "mobile"})

    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"id": "user_test", "memberships": []}}}
