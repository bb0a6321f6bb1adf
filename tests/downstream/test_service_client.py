"""The downstream client boundary: every failure arrives as one typed error, never as
httpx, never with a URL or body, and every response is validated before use."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from starlette.applications import Starlette

from app.downstream.breaker import CircuitBreaker
from app.downstream.errors import (
    DownstreamInvalidResponseError,
    DownstreamRateLimitedError,
    DownstreamRejectedError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
)
from app.downstream.invoicing import InvoicingClient
from app.downstream.models import Business, ListEnvelope
from app.downstream.retry import RetryPolicy
from app.downstream.service import CallMeta, Channel, ServiceClient, build_http_client
from sandbox.invoicing import create_invoicing_app
from sandbox.seed import DEMO_BUSINESS_IDS

TOKEN = "client-test-token"
META = CallMeta(request_id="req-0123456789", traceparent=None)


@pytest.fixture
def sandbox() -> Starlette:
    return create_invoicing_app(token=TOKEN)


@pytest.fixture
async def http(sandbox: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(
        "http://invoicing.test", TOKEN, transport=httpx.ASGITransport(app=sandbox)
    ) as client:
        yield client


def single_attempt(http: httpx.AsyncClient) -> Channel:
    """One attempt per call: these tests see each failure as the boundary translates it.
    Resending is tests/downstream/test_retries.py's subject."""
    breaker = CircuitBreaker("invoicing", failure_threshold=1000, open_seconds=1)
    return Channel("invoicing", http, breaker, RetryPolicy(max_attempts=1))


def invoicing(http: httpx.AsyncClient) -> InvoicingClient:
    return InvoicingClient(ServiceClient(single_attempt(http), META))


async def inject(http: httpx.AsyncClient, **faults: object) -> None:
    response = await http.put("/_sandbox/faults", json=faults)
    assert response.status_code == 200, response.text


async def test_a_batch_read_returns_the_known_businesses(http: httpx.AsyncClient) -> None:
    found = await invoicing(http).get_businesses([DEMO_BUSINESS_IDS[0], "biz_unknown"])

    assert [business.id for business in found] == [DEMO_BUSINESS_IDS[0]]
    assert found[0].country == "GB"


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_5xx_is_unavailable_and_retryable(http: httpx.AsyncClient, status: int) -> None:
    await inject(http, fail_next=1, fail_status=status)

    with pytest.raises(DownstreamUnavailableError) as raised:
        await invoicing(http).get_businesses([DEMO_BUSINESS_IDS[0]])

    assert raised.value.retryable is True
    assert raised.value.service == "invoicing"
    assert str(raised.value) == f"invoicing: answered {status}"


async def test_a_504_is_a_timeout_and_retryable(http: httpx.AsyncClient) -> None:
    await inject(http, fail_next=1, fail_status=504)

    with pytest.raises(DownstreamTimeoutError) as raised:
        await invoicing(http).get_businesses([DEMO_BUSINESS_IDS[0]])

    assert raised.value.retryable is True


async def test_a_503_keeps_its_retry_after(http: httpx.AsyncClient) -> None:
    await inject(http, fail_next=1, fail_status=503, retry_after=9)

    with pytest.raises(DownstreamUnavailableError) as raised:
        await invoicing(http).get_businesses([DEMO_BUSINESS_IDS[0]])

    assert raised.value.retry_after_seconds == 9


async def test_a_call_with_no_time_left_is_not_sent() -> None:
    from app.core.deadline import Deadline

    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"object": "list", "has_more": False, "data": []})

    async with transport(handler) as http:
        service = ServiceClient(
            single_attempt(http), CallMeta(request_id="r" * 8, deadline=Deadline(0))
        )
        with pytest.raises(DownstreamTimeoutError) as raised:
            await InvoicingClient(service).get_businesses(["biz_asked"])

    assert raised.value.detail == "GET not sent: no time left"
    assert sent == []


async def test_a_429_is_rate_limited_with_its_retry_after(http: httpx.AsyncClient) -> None:
    await inject(http, fail_next=1, fail_status=429, retry_after=7)

    with pytest.raises(DownstreamRateLimitedError) as raised:
        await invoicing(http).get_businesses([DEMO_BUSINESS_IDS[0]])

    assert raised.value.retry_after_seconds == 7
    assert raised.value.retryable is True


async def test_a_malformed_body_is_an_invalid_response(http: httpx.AsyncClient) -> None:
    await inject(http, malformed_next=1)

    with pytest.raises(DownstreamInvalidResponseError) as raised:
        await invoicing(http).get_businesses([DEMO_BUSINESS_IDS[0]])

    assert str(raised.value) == "invoicing: response body violates the contract"


async def test_a_schema_violating_object_is_left_out_or_refuses_a_strict_read(
    http: httpx.AsyncClient,
) -> None:
    # Given a service whose next two answers each break the contract in their first object
    await inject(http, invalid_next=2)

    # When the business is read, then strictly
    found = await invoicing(http).get_businesses([DEMO_BUSINESS_IDS[0]])
    with pytest.raises(DownstreamInvalidResponseError) as raised:
        await invoicing(http).get_businesses([DEMO_BUSINESS_IDS[0]], strict=True)

    # Then the first read leaves it out and names it broken; the strict one refuses
    assert list(found) == []
    assert [(b.kind, b.object_id, b.rules) for b in found.broken] == [
        ("Business", DEMO_BUSINESS_IDS[0], (("missing", "object"),))
    ]
    assert raised.value.detail == "1 objects of a /v1/businesses batch break the contract"


async def test_a_refused_service_token_is_unavailable_not_a_client_error(
    sandbox: Starlette,
) -> None:
    async with build_http_client(
        "http://invoicing.test", "wrong-token", transport=httpx.ASGITransport(app=sandbox)
    ) as http:
        with pytest.raises(DownstreamUnavailableError) as raised:
            await invoicing(http).get_businesses([DEMO_BUSINESS_IDS[0]])

    assert raised.value.detail == "refused the service token (401)"


async def test_a_4xx_is_rejected_with_the_contract_code_and_param(
    http: httpx.AsyncClient,
) -> None:
    service = ServiceClient(single_attempt(http), META)

    with pytest.raises(DownstreamRejectedError) as raised:
        await service.get(
            "/v1/businesses", {"ids": ",".join(["biz_a"] * 101)}, ListEnvelope[Business]
        )

    assert (raised.value.status, raised.value.code, raised.value.param) == (
        400,
        "invalid_request",
        "ids",
    )
    assert raised.value.retryable is False


def transport(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return build_http_client("http://invoicing.test", TOKEN, transport=httpx.MockTransport(handler))


def _raise(exc_type: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)

    return handler


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ReadTimeout, DownstreamTimeoutError),
        (httpx.ConnectTimeout, DownstreamTimeoutError),
        (httpx.ConnectError, DownstreamUnavailableError),
        (httpx.RemoteProtocolError, DownstreamUnavailableError),
    ],
)
async def test_transport_failures_are_translated_and_chained(
    failure: type[httpx.TransportError], expected: type[Exception]
) -> None:
    async with transport(_raise(failure)) as http:
        with pytest.raises(expected) as raised:
            await invoicing(http).get_businesses([DEMO_BUSINESS_IDS[0]])

    assert isinstance(raised.value.__cause__, failure)
    assert "invoicing.test" not in str(raised.value)


def _json(body: object, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _request: httpx.Response(status, content=json.dumps(body).encode())


BUSINESS = {
    "id": "biz_asked",
    "object": "business",
    "name": "Asked Ltd",
    "country": "GB",
    "default_currency": "GBP",
    "created_at": "2026-01-01T00:00:00Z",
}


async def test_objects_the_service_returns_for_ids_not_asked_are_dropped() -> None:
    lying = {
        "object": "list",
        "has_more": False,
        "data": [BUSINESS, {**BUSINESS, "id": "biz_other"}],
    }
    async with transport(_json(lying)) as http:
        found = await invoicing(http).get_businesses(["biz_asked"])

    assert [business.id for business in found] == ["biz_asked"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"object": "list", "has_more": false, "data": [], "x": NaN}',
        b'{"object": "list", "has_more": "false", "data": []}',
        b'{"object": "list", "has_more": false, "data": [{"id": "cus_wrongprefix"}], "x": NaN}',
        b'{"object": "list", "has_more": false}',
        b"[]",
        b"",
    ],
)
async def test_bodies_that_break_the_contract_are_refused(body: bytes) -> None:
    async with transport(lambda _request: httpx.Response(200, content=body)) as http:
        with pytest.raises(DownstreamInvalidResponseError):
            await invoicing(http).get_businesses(["biz_asked"])


async def test_an_object_with_an_unknown_currency_is_left_out() -> None:
    bad = {"object": "list", "has_more": False, "data": [{**BUSINESS, "default_currency": "XXX"}]}
    async with transport(_json(bad)) as http:
        found = await invoicing(http).get_businesses(["biz_asked"])
        with pytest.raises(DownstreamInvalidResponseError):
            await invoicing(http).get_businesses(["biz_asked"], strict=True)

    assert list(found) == []
    assert [(b.object_id, b.rules) for b in found.broken] == [
        ("biz_asked", (("literal_error", "default_currency"),))
    ]


async def test_an_oversized_body_is_refused_without_parsing() -> None:
    huge = (
        b'{"object": "list", "has_more": false, "data": [], "pad": "' + b"x" * (5 * 2**20) + b'"}'
    )
    async with transport(lambda _request: httpx.Response(200, content=huge)) as http:
        with pytest.raises(DownstreamInvalidResponseError) as raised:
            await invoicing(http).get_businesses(["biz_asked"])

    assert raised.value.detail == "response body too large"


async def test_an_error_body_that_is_not_the_envelope_still_maps_to_a_code() -> None:
    async with transport(lambda _request: httpx.Response(409, content=b"<html>")) as http:
        with pytest.raises(DownstreamRejectedError) as raised:
            await ServiceClient(single_attempt(http), META).get("/v1/x", {}, ListEnvelope[Business])

    assert (raised.value.status, raised.value.code, raised.value.param) == (409, "unknown", None)


async def test_batches_split_at_one_hundred_ids() -> None:
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(len(request.url.params["ids"].split(",")))
        return httpx.Response(200, json={"object": "list", "has_more": False, "data": []})

    async with transport(handler) as http:
        await invoicing(http).get_businesses([f"biz_{n}" for n in range(250)])

    assert seen == [100, 100, 50]


async def test_every_call_carries_the_service_token_and_request_id() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, json={"object": "list", "has_more": False, "data": []})

    async with transport(handler) as http:
        await invoicing(http).get_businesses(["biz_asked"])

    assert seen[0]["authorization"] == f"Bearer {TOKEN}"
    assert seen[0]["x-request-id"] == "req-0123456789"
    assert "traceparent" not in seen[0]


async def test_a_compressed_body_that_expands_past_the_cap_is_refused_while_streaming() -> None:
    import gzip

    bomb = gzip.compress(b'{"object": "list", "pad": "' + b"0" * (64 * 2**20))
    assert len(bomb) < 200_000

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})

    async with transport(handler) as http:
        with pytest.raises(DownstreamInvalidResponseError) as raised:
            await invoicing(http).get_businesses(["biz_asked"])

    assert raised.value.detail == "response body too large"


async def test_a_declared_oversized_body_is_refused_before_reading() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{}", headers={"Content-Length": str(10 * 2**20)})

    async with transport(handler) as http:
        with pytest.raises(DownstreamInvalidResponseError) as raised:
            await invoicing(http).get_businesses(["biz_asked"])

    assert raised.value.detail == "response body too large"


async def test_downstream_bodies_are_asked_for_uncompressed() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["accept-encoding"])
        return httpx.Response(200, json={"object": "list", "has_more": False, "data": []})

    async with transport(handler) as http:
        await invoicing(http).get_businesses(["biz_asked"])

    assert seen == ["identity"]
