"""HTTP transport protections in production settings: the body cap (413 before parsing,
chunked bodies too), JSON-only bodies (CSRF), no operation over GET, CORS from the
allow-list only, malformed bodies as 400s, and the security headers on every answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.auth.principal import Role
from sandbox.seed import GB_BUSINESS_ID, GB_CUSTOMER_ID
from tests.e2e.conftest import Downstreams, GatewayFactory, TokenFactory, graphql

MB = 1_048_576
VIEWER = "{ viewer { id } }"
CREATE_CUSTOMER = (
    'mutation { createCustomer(input: {idempotencyKey: "k-get-1", '
    f'businessId: "{GB_BUSINESS_ID}", name: "Mallory"}}) {{ customer {{ id }} '
    "userErrors { code } } }"
)


async def nothing_downstream(downstreams: Downstreams) -> None:
    assert await downstreams.calls("invoicing") == []
    assert await downstreams.calls("payments") == []


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def padded_body(size: int) -> bytes:
    """A valid request of exactly `size` bytes (an unused variable pads it)."""
    frame = json.dumps({"query": VIEWER, "variables": {"pad": ""}}).encode()
    body = json.dumps({"query": VIEWER, "variables": {"pad": "x" * (size - len(frame))}})
    assert len(body.encode()) == size
    return body.encode()


# -- the body cap (MAX_BODY_BYTES, 1 MiB) -------------------------------------------------


@pytest.mark.parametrize("size", [MB - 1, MB], ids=["below", "at"])
async def test_bodies_up_to_the_cap_are_served(
    gateway: httpx.AsyncClient, token_for: TokenFactory, size: int
) -> None:
    response = await gateway.post(
        "/graphql",
        content=padded_body(size),
        headers={"Authorization": f"Bearer {token_for([])}", "Content-Type": "application/json"},
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"id": "user_test"}}}


async def test_a_body_over_the_cap_is_413_before_authentication_or_parsing(
    gateway: httpx.AsyncClient, downstreams: Downstreams
) -> None:
    # No token at all: the size is refused before anything else is looked at.
    response = await gateway.post(
        "/graphql", content=padded_body(MB + 1), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json() == error_body(
        "PAYLOAD_TOO_LARGE", f"The request body is larger than {MB} bytes."
    )
    await nothing_downstream(downstreams)


async def test_a_chunked_body_without_content_length_is_counted(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    body = padded_body(MB + 1)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = await gateway.post(
        "/graphql",
        content=chunks(),
        headers={"Authorization": f"Bearer {token_for([])}", "Content-Type": "application/json"},
    )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    await nothing_downstream(downstreams)


@pytest.mark.parametrize("declared", ["abc", "-1", "1e6"])
async def test_a_content_length_that_is_not_a_number_is_400(
    gateway: httpx.AsyncClient, declared: str
) -> None:
    response = await gateway.post(
        "/graphql",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": declared},
    )

    assert response.status_code == 400
    assert response.json() == error_body("BAD_REQUEST", "Content-Length is not a number.")


async def test_the_body_cap_is_a_setting(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(max_body_bytes=2048)
    headers = {"Authorization": f"Bearer {token_for([])}", "Content-Type": "application/json"}

    assert (await gateway.post("/graphql", content=padded_body(2048), headers=headers)).is_success
    response = await gateway.post("/graphql", content=padded_body(2049), headers=headers)
    assert response.status_code == 413


# -- JSON bodies only: the CSRF content types are refused -----------------------------------

CSRF_CONTENT_TYPES = [
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=----x",
    "text/plain; application/json",
    "application/jsonp",
    "application/json-patch+json",
    "application/json; charset=latin-1",
    "",
]


@pytest.mark.parametrize("content_type", CSRF_CONTENT_TYPES)
async def test_a_body_that_is_not_json_is_415_and_nothing_runs(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    content_type: str,
) -> None:
    # Given a well-formed mutation, as a forged form or beacon would carry it
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    response = await gateway.post(
        "/graphql",
        content=json.dumps({"query": CREATE_CUSTOMER}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )

    assert response.status_code == 415
    assert response.headers["accept"] == "application/json"
    assert response.json() == error_body(
        "UNSUPPORTED_MEDIA_TYPE", "Send GraphQL requests as application/json."
    )
    await nothing_downstream(downstreams)


async def test_a_body_without_a_content_type_is_415(
    gateway: httpx.AsyncClient, downstreams: Downstreams
) -> None:
    response = await gateway.post("/graphql", content=b'{"query": "{ viewer { id } }"}')

    assert "content-type" not in response.request.headers
    assert response.status_code == 415
    await nothing_downstream(downstreams)


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
async def test_json_bodies_are_served(
    gateway: httpx.AsyncClient, token_for: TokenFactory, content_type: str
) -> None:
    response = await gateway.post(
        "/graphql",
        content=json.dumps({"query": VIEWER}).encode(),
        headers={"Authorization": f"Bearer {token_for([])}", "Content-Type": content_type},
    )

    assert response.status_code == 200


# -- no operation over GET ------------------------------------------------------------------


@pytest.mark.parametrize("query", [CREATE_CUSTOMER, VIEWER], ids=["mutation", "query"])
async def test_no_operation_runs_over_get(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    query: str,
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    response = await gateway.get(
        "/graphql",
        params={"query": query},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    await nothing_downstream(downstreams)
    # And nothing was created: the same key over POST is a first call, not a replay
    created = await graphql(
        gateway,
        CREATE_CUSTOMER.replace("customer { id } userErrors { code }", "replayed"),
        token,
    )
    assert created.json() == {"data": {"createCustomer": {"replayed": False}}}


# -- malformed bodies are 400s, never 500s ---------------------------------------------------


async def test_a_trailing_slash_is_not_redirected_to_a_host_the_caller_chose(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    response = await gateway.post(
        "/graphql/",
        json={"query": "{ viewer { id } }"},
        headers={"Authorization": f"Bearer {token}", "Host": "attacker.example"},
    )

    assert response.status_code == 404
    assert "location" not in response.headers
    assert "attacker.example" not in response.text
    await nothing_downstream(downstreams)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"5", "A GraphQL request is a JSON object."),
        (b'"{ viewer { id } }"', "A GraphQL request is a JSON object."),
        (b"null", "A GraphQL request is a JSON object."),
        (b"[1]", "Batching is not enabled"),
        (b'{"query": 5}', "`query` must be a string or null."),
        (
            b'{"query": "{ viewer { id } }", "operationName": 5}',
            "`operationName` must be a string or null.",
        ),
        (
            b'{"query": "{ viewer { id } }", "variables": []}',
            "`variables` must be an object or null.",
        ),
        (
            b'{"query": "{ viewer { id } }", "extensions": "x"}',
            "`extensions` must be an object or null.",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "The request body is nested too deeply."),
        (b"{not json", "The request body is not valid JSON."),
        (b'{"query": "{ viewer { id } }\xff"}', "The request body is not valid UTF-8."),
        (b'{"query": "\xed\xa0\x80"}', "The request body is not valid UTF-8."),
    ],
    ids=[
        "number",
        "string",
        "null",
        "batch of non-objects",
        "query not a string",
        "operationName not a string",
        "variables not an object",
        "extensions not an object",
        "nested too deeply",
        "not json",
        "invalid utf-8",
        "utf-8 surrogate",
    ],
)
async def test_a_malformed_body_is_400(
    gateway: httpx.AsyncClient, token_for: TokenFactory, body: bytes, reason: str
) -> None:
    response = await gateway.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {token_for([])}", "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == error_body("BAD_REQUEST", reason)


async def test_a_malformed_batch_item_is_400(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(graphql_max_batch=2)

    response = await gateway.post(
        "/graphql",
        json=[{"query": VIEWER}, ["not", "an", "operation"]],
        headers={"Authorization": f"Bearer {token_for([])}"},
    )

    assert response.status_code == 400
    assert response.json() == error_body("BAD_REQUEST", "A GraphQL request is a JSON object.")


# -- CORS from the CORS_ORIGINS allow-list only -----------------------------------------------

APP_ORIGIN = "https://app.example.com"
EVIL_ORIGIN = "https://evil.example.net"


def preflight_headers(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }


async def test_a_preflight_from_an_allowed_origin_is_answered_without_credentials(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory(cors_origins=APP_ORIGIN)

    response = await gateway.options("/graphql", headers=preflight_headers(APP_ORIGIN))

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("configured", ["", APP_ORIGIN], ids=["none configured", "another"])
async def test_a_preflight_from_an_unknown_origin_is_refused(
    gateway_factory: GatewayFactory, configured: str
) -> None:
    gateway = await gateway_factory(cors_origins=configured)

    response = await gateway.options("/graphql", headers=preflight_headers(EVIL_ORIGIN))

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_an_allowed_origin_may_read_the_answer_and_its_request_id(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(cors_origins=f"{APP_ORIGIN},https://m.example.com")

    response = await graphql(gateway, VIEWER, token_for([]), headers={"Origin": APP_ORIGIN})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
    assert "origin" in response.headers["vary"].lower()
    assert "access-control-allow-credentials" not in response.headers


async def test_an_unknown_origin_gets_no_cors_headers(
    gateway_factory: GatewayFactory, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    gateway = await gateway_factory(cors_origins=APP_ORIGIN)

    response = await graphql(gateway, VIEWER, token_for([]), headers={"Origin": EVIL_ORIGIN})

    # A browser keeps the answer from the page; the JSON-only rule already made this
    # request need a preflight, which the origin fails.
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


# -- security headers ---------------------------------------------------------------------------

SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
}


async def test_an_authenticated_answer_is_not_stored_and_carries_the_security_headers(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    response = await graphql(gateway, f'{{ customer(id: "{GB_CUSTOMER_ID}") {{ email }} }}', token)

    assert response.status_code == 200
    assert {name: response.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("POST", "/graphql", 401), ("GET", "/healthz", 200), ("POST", "/graphql", 413)],
    ids=["refused token", "health", "body cap"],
)
async def test_every_answer_carries_the_security_headers(
    gateway: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    content = padded_body(MB + 1) if status == 413 else b'{"query": "{ viewer { id } }"}'
    response = await gateway.request(
        method,
        path,
        content=content if method == "POST" else None,
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == status
    assert {name: response.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS


async def test_development_sends_no_hsts_and_graphiql_keeps_its_own_policy(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory(app_env="development")

    response = await gateway.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers
    # the page's own policy (app/http/graphiql/): its scripts from this origin only, never framed
    policy = response.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; script-src 'self';")
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
