"""Compressed answers and uncompressed requests (app/http/compression.py), through the
whole app as a client sees it: gzip only when accepted (q-values honoured) and only
above the threshold, the same JSON after decoding, every header kept; HTML and a
scraper that does not ask stay identity; a compressed request body is 415."""

# The fixtures come from tests/e2e/conftest.py by import, and tests name them as arguments.
# ruff: noqa: F811

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Receive, Scope, Send

from app.auth.principal import Role
from app.http.compression import LEVEL, MINIMUM_SIZE, GzipAnswers, accepts_gzip
from bench.compression import measure, table
from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.conftest import (  # noqa: F401 - fixtures
    Downstreams,
    GatewayFactory,
    TokenFactory,
    downstreams,
    gateway,
    gateway_factory,
    signing_key,
    token_for,
)

VIEWER = "{ viewer { id } }"
DASHBOARD = (
    f'{{ business(id: "{GB_BUSINESS_ID}") {{ name invoices(first: 20) {{ edges {{ node {{ '
    "id number status dueDate total { amount currency formatted } customer { id name email } "
    "} } } } }"
)
METRICS_TOKEN = "metrics-test-token"
SECURITY_HEADERS = (
    "cache-control",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "content-security-policy",
    "strict-transport-security",
)


class Raw:
    """An answer as it crossed the wire: headers and the undecoded body."""

    def __init__(self, response: httpx.Response, body: bytes) -> None:
        self.status = response.status_code
        self.headers = response.headers
        self.encoding: str | None = response.headers.get("content-encoding")
        self.body = body

    def json(self) -> Any:
        body = gzip.decompress(self.body) if self.encoding == "gzip" else self.body
        return json.loads(body)


def vary(answer: Raw) -> list[str]:
    # CORS adds Origin (the allow-list is empty here, but the answer still depends on it).
    return [name.strip() for name in answer.headers["vary"].split(",")]


async def send(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    accept_encoding: str | None,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Raw:
    request = client.build_request(
        method,
        path,
        content=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    # httpx offers gzip by default; these tests choose what is offered, or nothing.
    del request.headers["accept-encoding"]
    if accept_encoding is not None:
        request.headers["Accept-Encoding"] = accept_encoding
    response = await client.send(request, stream=True)
    try:
        return Raw(response, b"".join([chunk async for chunk in response.aiter_raw()]))
    finally:
        await response.aclose()


async def ask(
    gateway: httpx.AsyncClient, token: str | None, query: str, accept_encoding: str | None
) -> Raw:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await send(
        gateway,
        "POST",
        "/graphql",
        accept_encoding=accept_encoding,
        body={"query": query},
        headers=headers,
    )


@pytest.fixture
def owner(token_for: TokenFactory) -> str:
    return token_for([(GB_BUSINESS_ID, Role.OWNER)])


# -- answers ------------------------------------------------------------------------------


async def test_a_large_answer_is_gzip_with_vary_and_the_same_json(
    gateway: httpx.AsyncClient, owner: str
) -> None:
    # Given the dashboard's answer, larger than the threshold, as identity
    plain = await ask(gateway, owner, DASHBOARD, accept_encoding="identity")
    assert plain.status == 200
    assert plain.encoding is None
    assert len(plain.body) > MINIMUM_SIZE

    # When a client that accepts gzip asks the same
    packed = await ask(gateway, owner, DASHBOARD, accept_encoding="gzip, deflate, br")

    # Then it is gzip, declared so, smaller, and the same bytes once decoded
    assert packed.status == 200
    assert packed.encoding == "gzip"
    assert vary(packed) == ["Origin", "Accept-Encoding"]
    assert int(packed.headers["content-length"]) == len(packed.body) < len(plain.body) / 3
    assert gzip.decompress(packed.body) == plain.body
    assert packed.headers["content-type"] == "application/json"


async def test_a_compressed_answer_keeps_the_security_headers_and_the_request_id(
    gateway: httpx.AsyncClient, owner: str
) -> None:
    plain = await ask(gateway, owner, DASHBOARD, accept_encoding=None)
    packed = await ask(gateway, owner, DASHBOARD, accept_encoding="gzip")

    assert packed.encoding == "gzip"
    assert {name: packed.headers[name] for name in SECURITY_HEADERS} == {
        name: plain.headers[name] for name in SECURITY_HEADERS
    }
    assert len(packed.headers["x-request-id"]) == 32


async def test_a_small_answer_is_not_compressed(gateway: httpx.AsyncClient, owner: str) -> None:
    answer = await ask(gateway, owner, VIEWER, accept_encoding="gzip")

    assert answer.status == 200
    assert answer.encoding is None
    assert answer.json() == {"data": {"viewer": {"id": "user_test"}}}


@pytest.mark.parametrize(
    "offered",
    [None, "", "identity", "gzip;q=0", "br, deflate", "*;q=0", "gzip;q=0, *"],
    ids=["absent", "empty", "identity", "gzip refused", "other codings", "none", "gzip out"],
)
async def test_a_client_that_does_not_accept_gzip_gets_identity(
    gateway: httpx.AsyncClient, owner: str, offered: str | None
) -> None:
    answer = await ask(gateway, owner, DASHBOARD, accept_encoding=offered)

    assert answer.status == 200
    assert answer.encoding is None
    assert answer.json()["data"]["business"]["name"]
    # The answer would have differed had the client accepted gzip: caches must know.
    assert vary(answer) == ["Origin", "Accept-Encoding"]


async def test_a_refusal_is_still_coded_json_when_gzip_is_accepted(
    gateway: httpx.AsyncClient,
) -> None:
    answer = await ask(gateway, None, DASHBOARD, accept_encoding="gzip")

    assert answer.status == 401
    assert answer.headers["content-type"] == "application/json"
    assert [e["extensions"]["code"] for e in answer.json()["errors"]] == ["UNAUTHENTICATED"]


async def test_a_large_error_answer_is_compressed_and_decodes_to_its_errors(
    gateway: httpx.AsyncClient, owner: str
) -> None:
    # Given a document with many unknown fields: a long list of validation errors
    query = "{ " + " ".join(f"unknownField{n}" for n in range(40)) + " }"
    plain = await ask(gateway, owner, query, accept_encoding="identity")
    assert len(plain.body) > MINIMUM_SIZE

    packed = await ask(gateway, owner, query, accept_encoding="gzip")

    assert packed.status == plain.status
    assert packed.encoding == "gzip"
    assert packed.json() == plain.json()


# -- what is never compressed, or only on request -----------------------------------------


async def test_the_graphiql_page_is_never_compressed(gateway_factory: GatewayFactory) -> None:
    # Given development, where the page carries the demo token
    gateway = await gateway_factory(app_env="development")

    page = await send(
        gateway, "GET", "/graphql", accept_encoding="gzip", headers={"Accept": "text/html"}
    )

    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.encoding is None
    assert b"<html" in page.body


async def test_graphiql_assets_follow_the_q_values_too(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory(app_env="development")
    page = await send(
        gateway, "GET", "/graphql", accept_encoding=None, headers={"Accept": "text/html"}
    )
    script = next(
        line.split('src="')[1].split('"')[0]
        for line in page.body.decode().splitlines()
        if 'src="/graphiql/assets/' in line
    )

    refused = await send(gateway, "GET", script, accept_encoding="gzip;q=0")
    accepted = await send(gateway, "GET", script, accept_encoding="gzip")

    assert (refused.status, refused.encoding) == (200, None)
    assert (accepted.status, accepted.encoding) == (200, "gzip")
    assert gzip.decompress(accepted.body) == refused.body


async def test_metrics_are_gzip_only_for_a_scraper_that_asks_and_stay_parseable(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory(metrics_token=METRICS_TOKEN)
    operator = {"Authorization": f"Bearer {METRICS_TOKEN}"}

    plain = await send(gateway, "GET", "/metrics", accept_encoding=None, headers=operator)
    # Prometheus' scraper offers exactly this, and decodes what it gets
    packed = await send(gateway, "GET", "/metrics", accept_encoding="gzip", headers=operator)

    assert (plain.status, plain.encoding) == (200, None)
    assert (packed.status, packed.encoding) == (200, "gzip")
    assert packed.headers["content-type"] == plain.headers["content-type"]
    families = {
        family.name
        for family in text_string_to_metric_families(gzip.decompress(packed.body).decode())
    }
    assert families == {
        family.name for family in text_string_to_metric_families(plain.body.decode())
    }


# -- requests are never decoded -----------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate, gzip", "GZIP"])
async def test_a_compressed_request_body_is_415_and_nothing_runs(
    gateway: httpx.AsyncClient, downstreams: Downstreams, owner: str, coding: str
) -> None:
    body = gzip.compress(json.dumps({"query": DASHBOARD}).encode())

    response = await gateway.post(
        "/graphql",
        content=body,
        headers={
            "Authorization": f"Bearer {owner}",
            "Content-Type": "application/json",
            "Content-Encoding": coding,
        },
    )

    assert response.status_code == 415
    assert response.headers["accept-encoding"] == "identity"
    assert response.json() == {
        "errors": [
            {
                "message": "Request bodies must not be compressed (no Content-Encoding).",
                "extensions": {"code": "UNSUPPORTED_MEDIA_TYPE"},
            }
        ]
    }
    assert await downstreams.calls("invoicing") == []


async def test_an_identity_content_encoding_is_served(
    gateway: httpx.AsyncClient, owner: str
) -> None:
    response = await gateway.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Authorization": f"Bearer {owner}", "Content-Encoding": "identity"},
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"id": "user_test"}}}


# -- the threshold --------------------------------------------------------------------------


def answering(body: bytes, content_type: bytes = b"application/json") -> GzipAnswers:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return GzipAnswers(app)


@pytest.mark.parametrize(
    ("size", "encoding"),
    [(MINIMUM_SIZE - 1, None), (MINIMUM_SIZE, "gzip")],
    ids=["below", "at"],
)
async def test_answers_are_compressed_from_the_threshold_on(
    size: int, encoding: str | None
) -> None:
    body = json.dumps({"data": {"pad": "x" * (size - 20)}}).encode()[:size]
    assert len(body) == size
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=answering(body)), base_url="http://app"
    ) as client:
        answer = await send(client, "GET", "/", accept_encoding="gzip")

    assert answer.encoding == encoding
    assert (gzip.decompress(answer.body) if encoding else answer.body) == body


@pytest.mark.parametrize("content_type", [b"text/html; charset=utf-8", b"image/png"])
async def test_html_and_compressed_media_are_never_compressed(content_type: bytes) -> None:
    body = b"<html>" + b"a" * 4096
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=answering(body, content_type)), base_url="http://app"
    ) as client:
        answer = await send(client, "GET", "/", accept_encoding="gzip")

    assert answer.encoding is None
    assert answer.body == body


async def test_the_bench_measures_the_bytes_the_middleware_sends() -> None:
    # Given an answer the size of a short dashboard
    body = json.dumps({"data": {"invoices": [{"id": f"in_{n}", "n": n} for n in range(60)]}})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=answering(body.encode())), base_url="http://app"
    ) as client:
        sent = await send(client, "GET", "/", accept_encoding="gzip")

    # When bench.compression measures it (python -m bench.compression)
    rows = measure({"answer": body.encode()}, repeat=1)

    # Then its shipped level's size is what went on the wire, and the table shows it
    assert rows[0]["codecs"][f"gzip-{LEVEL}"]["bytes"] == len(sent.body)
    assert f"| answer | {len(body)} |" in table(rows)


# -- reading Accept-Encoding --------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "accepted"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("GZip", True),
        ("x-gzip", True),
        ("gzip, deflate, br, zstd", True),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", True),
        ("gzip;q=0.001", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("gzip;q=abc", False),
        ("gzip;q=2", False),
        ("identity", False),
        ("deflate, br", False),
        ("*", True),
        ("*;q=0", False),
        ("gzip;q=0, *", False),
        ("*;q=0, gzip", True),
        ("gzip;q=0, x-gzip;q=0.5", True),
    ],
)
def test_accept_encoding_is_read_with_its_q_values(offered: str | None, accepted: bool) -> None:
    assert accepts_gzip(offered) is accepted
