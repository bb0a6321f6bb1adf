"""One error format everywhere: every non-2xx answer from /graphql is JSON with
`errors[].extensions.code`, and a 401 says what to do in RFC 6750's terms (a class of
reason in production, the exact check in development)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import Response

from app.http.unauthenticated import explain
from app.main import create_app
from sandbox.devkeys import mint_token
from tests.e2e.conftest import (
    AUDIENCE,
    ISSUER,
    Downstreams,
    GatewayFactory,
    TokenFactory,
    gateway_settings,
    graphql,
)

VIEWER = "{ viewer { id } }"
GOOD = "good"  # replaced by a valid token in the test


@dataclass(frozen=True)
class Case:
    status: int
    code: str
    method: str = "POST"
    path: str = "/graphql"
    body: bytes | None = b'{"query": "{ viewer { id } }"}'
    headers: dict[str, str] = field(default_factory=dict)
    token: str | None = GOOD


CASES = {
    "not json": Case(400, "BAD_REQUEST", body=b"{nope"),
    "not utf-8": Case(400, "BAD_REQUEST", body=b'{"query": "\xff"}'),
    "not an object": Case(400, "BAD_REQUEST", body=b"[]"),
    "array with batching off": Case(400, "BAD_REQUEST", body=b'[{"query": "{ viewer { id } }"}]'),
    "variables not an object": Case(
        400, "BAD_REQUEST", body=b'{"query": "{ viewer { id } }", "variables": "x"}'
    ),
    "query not a string": Case(400, "BAD_REQUEST", body=b'{"query": ["{ viewer { id } }"]}'),
    "no query": Case(400, "BAD_REQUEST", body=b'{"variables": {}}'),
    "nested too deeply": Case(400, "BAD_REQUEST", body=b"[" * 50_000 + b"]" * 50_000),
    "unknown operation name": Case(
        400,
        "OPERATION_RESOLUTION_FAILURE",
        body=b'{"query": "query A { viewer { id } }", "operationName": "B"}',
    ),
    "no token": Case(401, "UNAUTHENTICATED", token=None),
    "bad token": Case(401, "UNAUTHENTICATED", token="not.a.jwt"),
    "GET": Case(405, "METHOD_NOT_ALLOWED", method="GET", body=None),
    "PUT": Case(405, "METHOD_NOT_ALLOWED", method="PUT"),
    "trailing slash": Case(404, "NOT_FOUND", path="/graphql/"),
    "GraphiQL off": Case(
        404, "NOT_FOUND", method="GET", body=None, headers={"Accept": "text/html"}
    ),
    "too large": Case(413, "PAYLOAD_TOO_LARGE", body=b" " * (1_048_576 + 1)),
    "form post": Case(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_every_refusal_is_json_with_a_code(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams, case: Case
) -> None:
    headers = {"Content-Type": "application/json", **case.headers}
    if case.token is not None:
        token = token_for() if case.token == GOOD else case.token
        headers["Authorization"] = f"Bearer {token}"

    response = await gateway.request(case.method, case.path, content=case.body, headers=headers)

    assert response.status_code == case.status
    assert response.headers["content-type"] == "application/json"
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == case.code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert await downstreams.calls("invoicing") == []
    assert await downstreams.calls("payments") == []


async def test_a_rate_limited_answer_is_json_with_a_code(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(rate_limit_capacity=1, rate_limit_refill_per_second=0.01)
    token = token_for()
    await graphql(gateway, VIEWER, token)

    response = await graphql(gateway, VIEWER, token)

    assert response.status_code == 429
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_a_syntax_error_is_parse_failed_not_validation_failed(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    response = await graphql(gateway, "{ viewer { id }", token_for())

    assert response.status_code == 200
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "Syntax Error: Expected Name, found <EOF>.",
                "locations": [{"line": 1, "column": 16}],
                "extensions": {"code": "GRAPHQL_PARSE_FAILED"},
            }
        ],
    }


async def test_an_unknown_operation_name_is_named_in_the_refusal(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    response = await gateway.post(
        "/graphql",
        json={"query": "query A { viewer { id } }", "operationName": "B"},
        headers={"Authorization": f"Bearer {token_for()}"},
    )

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": 'Unknown operation named "B".',
                "extensions": {"code": "OPERATION_RESOLUTION_FAILURE"},
            }
        ]
    }


# -- 401: RFC 6750's challenge, a class of reason in production ---------------------------


def challenge(error: str, description: str) -> str:
    return f'Bearer realm="gateway", error="{error}", error_description="{description}"'


def expired_token(signing_key: rsa.RSAPrivateKey) -> str:
    return mint_token(
        signing_key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="user_test",
        memberships=[],
        ttl_seconds=60,
        now=int(time.time()) - 3600,
    )


def foreign_audience_token(signing_key: rsa.RSAPrivateKey) -> str:
    return mint_token(
        signing_key, issuer=ISSUER, audience="someone-else", subject="user_test", memberships=[]
    )


async def test_production_names_the_class_of_a_failure_and_never_the_check(
    gateway: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey
) -> None:
    expired = await graphql(gateway, VIEWER, expired_token(signing_key))
    foreign = await graphql(gateway, VIEWER, foreign_audience_token(signing_key))
    malformed = await gateway.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": "Basic dXNlcjpwYXNz"}
    )

    assert expired.headers["www-authenticate"] == challenge(
        "invalid_token", "The access token has expired; get a new one."
    )
    assert expired.json()["errors"][0]["message"] == "The access token has expired; get a new one."
    # A foreign audience is as invalid as a forged signature: which check failed is not said.
    assert foreign.headers["www-authenticate"] == challenge(
        "invalid_token", "The access token is invalid; get a new one."
    )
    assert malformed.headers["www-authenticate"] == challenge(
        "invalid_request", "The Authorization header must be Bearer followed by one token."
    )
    assert [r.status_code for r in (expired, foreign, malformed)] == [401, 401, 401]


async def test_development_names_the_exact_check(
    gateway_factory: GatewayFactory, signing_key: rsa.RSAPrivateKey
) -> None:
    gateway = await gateway_factory(app_env="development")

    foreign = await graphql(gateway, VIEWER, foreign_audience_token(signing_key))
    expired = await graphql(gateway, VIEWER, expired_token(signing_key))

    description = "The access token is invalid: aud does not include JWT_AUDIENCE."
    assert foreign.status_code == 401
    assert foreign.headers["www-authenticate"] == challenge("invalid_token", description)
    assert foreign.json() == {
        "errors": [{"message": description, "extensions": {"code": "UNAUTHENTICATED"}}]
    }
    # Expiry is already a class a client acts on: the same words everywhere.
    assert expired.headers["www-authenticate"] == challenge(
        "invalid_token", "The access token has expired; get a new one."
    )


REASONS = [
    "missing_token",
    "malformed_authorization",
    "token_too_long",
    "malformed",
    "malformed_header",
    "malformed_payload",
    "missing_alg",
    "alg_none",
    "algorithm_not_allowed",
    "missing_kid",
    "unknown_kid",
    "key_alg_mismatch",
    "bad_key",
    "bad_signature",
    "bad_issuer",
    "bad_audience",
    "bad_subject",
    "expired",
    "issued_in_future",
    "not_yet_valid",
    "missing_claim:exp",
    "bad_claim:memberships",
    "something_new",
]
# RFC 6750 3: error_description is %x20-21 / %x23-5B / %x5D-7E.
QUOTABLE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")


@pytest.mark.parametrize("exact", [False, True], ids=["production", "development"])
@pytest.mark.parametrize("reason", REASONS)
def test_every_description_fits_in_the_challenge(reason: str, *, exact: bool) -> None:
    explanation = explain(reason, exact=exact)

    assert QUOTABLE.fullmatch(explanation.description)
    assert explanation.error in {None, "invalid_request", "invalid_token"}


def test_production_tells_forgers_nothing_about_which_check_failed() -> None:
    # Reasons reachable without a valid signature, or naming a claim, all read alike.
    forgeable = [r for r in REASONS if r not in {"missing_token", "malformed_authorization"}]
    signed_classes = {"expired", "issued_in_future", "not_yet_valid"}

    said = {explain(r, exact=False) for r in forgeable if r not in signed_classes}

    assert len(said) == 1


def test_development_says_more_than_production_for_every_check() -> None:
    checks = [r for r in REASONS if r not in {"missing_token", "malformed_authorization"}]
    checks = [r for r in checks if r not in {"expired", "something_new"}]
    checks = [r for r in checks if r not in {"issued_in_future", "not_yet_valid"}]

    assert all(explain(r, exact=True) != explain(r, exact=False) for r in checks)
    assert explain("something_new", exact=True) == explain("something_new", exact=False)


async def test_an_unhandled_error_is_a_json_500_naming_the_request(
    downstreams: Downstreams,
) -> None:
    # given a gateway with a route that fails in a way nobody planned for
    async def explode(_request: Request) -> Response:
        raise RuntimeError("secret internals")

    app = create_app(
        gateway_settings("sqlite+aiosqlite:///:memory:"), transports=downstreams.transports()
    )
    app.add_route("/explode", explode)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        # when it is called
        response = await client.get("/explode", headers={"X-Request-Id": "req-boom-0001"})

    # then a JSON 500 with the request's id, and nothing of the error
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "errors": [
            {
                "message": "Internal error. Reference: req-boom-0001",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-boom-0001"},
            }
        ]
    }
    assert "secret" not in response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert (
        response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
