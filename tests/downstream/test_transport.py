"""The shipped transport (aiohttp under httpx, app/downstream/transport.py) over real loopback
sockets: each failure reaches ServiceClient as the error, and with the resending, that
httpx's own transport gave. Most tests run both: `shipped`, and `httpcore` (the former
default) as the reference the answers must match."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import json
import ssl
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from app.downstream.breaker import CircuitBreaker
from app.downstream.errors import (
    DownstreamError,
    DownstreamInvalidResponseError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
)
from app.downstream.models import Business, ListEnvelope
from app.downstream.observe import CallTally
from app.downstream.retry import RetryPolicy
from app.downstream.service import (
    SERVICE_LIMITS,
    CallMeta,
    Channel,
    ServiceClient,
    build_http_client,
)
from app.downstream.transport import ServiceTransport, map_aiohttp_error
from tests.downstream.loopback import Exchange, Loopback, closed_port, unanswered_port

TOKEN = "transport-test-token"
EMPTY = json.dumps({"object": "list", "has_more": False, "data": []}).encode()
JSON = {"Content-Type": "application/json"}
ATTEMPTS = 3


@dataclass(frozen=True)
class Via:
    """How a test's client reaches the service: `shipped`, GETs straight onto aiohttp
    (app/downstream/direct.py) and writes through httpx over aiohttp; `aiohttp-httpx`,
    every call through httpx's objects over aiohttp; `httpcore`, httpx's own transport,
    the reference the others must match."""

    transport: Callable[[], httpx.AsyncBaseTransport | None]
    direct_reads: bool = True


VIAS: dict[str, Via] = {
    "shipped": Via(lambda: None),
    "aiohttp-httpx": Via(lambda: None, direct_reads=False),
    "httpcore": Via(lambda: httpx.AsyncHTTPTransport(limits=SERVICE_LIMITS, trust_env=False)),
}


@pytest.fixture(params=list(VIAS))
def via(request: pytest.FixtureRequest) -> Via:
    return VIAS[request.param]


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    opened: list[httpx.AsyncClient] = []

    def make(url: str, via: Via = VIAS["shipped"], timeout_seconds: float = 5) -> httpx.AsyncClient:
        client = build_http_client(
            url,
            TOKEN,
            transport=via.transport(),
            timeout_seconds=timeout_seconds,
            direct_reads=via.direct_reads,
        )
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.aclose()


def service(http: httpx.AsyncClient, tally: CallTally, cap: float = 5.0) -> ServiceClient:
    """The policy's attempts with no backoff: these tests count sends, not seconds."""
    breaker = CircuitBreaker("payments", failure_threshold=1000, open_seconds=1)
    policy = RetryPolicy(max_attempts=ATTEMPTS, jitter=lambda: 0.0)
    meta = CallMeta(
        request_id="req-transport-1", actor_id="usr_1", tally=tally, call_cap_seconds=cap
    )
    return ServiceClient(Channel("payments", http, breaker, policy), meta)


async def read(client: ServiceClient) -> ListEnvelope[Business]:
    return await client.get("/v1/balances", {"business_ids": "biz_a"}, ListEnvelope[Business])


async def failing_read(client: ServiceClient, error: type[DownstreamError]) -> DownstreamError:
    with pytest.raises(error) as raised:
        await read(client)
    return raised.value


async def ok(exchange: Exchange) -> None:
    await exchange.answer(200, EMPTY, JSON)


# --- connecting: never reached the service, resent at once ---------------------------


async def test_a_refused_connection_is_unavailable_and_resent_per_policy(
    clients: Callable[..., httpx.AsyncClient], via: Via
) -> None:
    # given a service whose port nobody listens on
    tally = CallTally()
    http = clients(f"http://127.0.0.1:{closed_port()}", via)

    # when it is read
    error = await failing_read(service(http, tally), DownstreamUnavailableError)

    # then every attempt the policy allows was made, the failure transient and chained
    assert error.transient is True
    assert (tally.attempts, tally.retries) == (ATTEMPTS, ATTEMPTS - 1)
    assert isinstance(error.__cause__, httpx.ConnectError)


async def test_a_connect_timeout_is_transient_and_resent_per_policy(
    clients: Callable[..., httpx.AsyncClient], via: Via
) -> None:
    # given a service that never completes a TCP handshake, and a 0.2 s connect timeout
    tally = CallTally()
    with unanswered_port() as port:
        http = clients(f"http://127.0.0.1:{port}", via, timeout_seconds=0.2)

        # when it is read
        error = await failing_read(service(http, tally), DownstreamTimeoutError)

    # then it never reached the service: resent, as a refusal is
    assert error.transient is True
    assert tally.attempts == ATTEMPTS
    assert isinstance(error.__cause__, httpx.ConnectTimeout)


async def test_a_dns_lookup_that_hangs_is_a_connect_timeout(
    clients: Callable[..., httpx.AsyncClient], via: Via, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a resolver that never answers
    async def hanging(*_args: object, **_kwargs: object) -> list[Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", hanging)
    tally = CallTally()
    http = clients(f"http://payments.test:{closed_port()}", via, timeout_seconds=0.2)

    # when it is read
    error = await failing_read(service(http, tally), DownstreamTimeoutError)

    # then the lookup counted as connecting, within the connect timeout
    assert error.transient is True
    assert tally.attempts == ATTEMPTS
    assert isinstance(error.__cause__, httpx.ConnectTimeout)


def self_signed(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


async def test_https_refuses_a_certificate_the_default_bundle_does_not_trust(
    clients: Callable[..., httpx.AsyncClient], via: Via, tmp_path: Path
) -> None:
    # given a service over TLS with a self-signed certificate
    async with Loopback(ok, tls=self_signed(tmp_path)) as server:
        tally = CallTally()
        http = clients(server.url, via)

        # when it is read
        error = await failing_read(service(http, tally), DownstreamUnavailableError)

    # then no request went out: the handshake failed as a connect failure
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert "CERTIFICATE_VERIFY_FAILED" in str(error.__cause__)
    assert server.requests == []


# --- waiting for the answer: the service may be working on it, never resent -----------


async def silent(exchange: Exchange) -> None:
    await exchange.reader.read()  # until the client gives up and hangs up


@pytest.mark.parametrize(
    ("timeout_seconds", "cap"), [(0.2, 5.0), (5.0, 0.2)], ids=["read-timeout", "call-cap"]
)
async def test_a_service_that_accepts_and_never_answers_times_out_sent_once(
    clients: Callable[..., httpx.AsyncClient], via: Via, timeout_seconds: float, cap: float
) -> None:
    # given a service that reads the request and never answers
    async with Loopback(silent) as server:
        tally = CallTally()
        http = clients(server.url, via, timeout_seconds=timeout_seconds)

        # when it is read, with the client's read timeout or the call's cap the shorter
        error = await failing_read(service(http, tally, cap), DownstreamTimeoutError)

    # then a timeout that is not resent: the request reached the service
    assert error.transient is False
    assert len(server.requests) == 1
    assert tally.attempts == 1


# --- dropped mid-exchange: as httpx reported it, resent ------------------------------


async def cut_mid_body(exchange: Exchange) -> None:
    exchange.writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + EMPTY[:10])
    await exchange.writer.drain()
    exchange.hang_up()


async def hang_up_without_answering(exchange: Exchange) -> None:
    exchange.hang_up()


async def answer_not_http(exchange: Exchange) -> None:
    exchange.writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    await exchange.writer.drain()
    exchange.hang_up()


@pytest.mark.parametrize(
    "handler",
    [cut_mid_body, hang_up_without_answering, answer_not_http],
    ids=["mid-body", "before-answering", "not-http"],
)
async def test_a_connection_the_service_drops_is_unavailable_and_resent(
    clients: Callable[..., httpx.AsyncClient],
    via: Via,
    handler: Callable[[Exchange], Any],
) -> None:
    # given a service that drops every connection it is sent a request on
    async with Loopback(handler) as server:
        tally = CallTally()

        # when it is read
        error = await failing_read(
            service(clients(server.url, via), tally), DownstreamUnavailableError
        )

    # then unavailable, transient, and each attempt sent exactly once (no resend below)
    assert isinstance(error, DownstreamUnavailableError)
    assert error.transient is True
    assert isinstance(error.__cause__, httpx.RemoteProtocolError)
    assert len(server.requests) == tally.attempts == ATTEMPTS


# --- the answer: as the service sent it ----------------------------------------------


async def test_a_gzip_body_reaches_httpx_as_the_service_sent_it(
    clients: Callable[..., httpx.AsyncClient], via: Via
) -> None:
    # given a service that compresses its answer although asked not to
    compressed = gzip.compress(EMPTY)

    async def gzipped(exchange: Exchange) -> None:
        await exchange.answer(200, compressed, {**JSON, "Content-Encoding": "gzip"})

    async with Loopback(gzipped) as server:
        http = clients(server.url, via)

        # when the answer is streamed raw, and read through the service client
        async with http.stream("GET", "/v1/balances") as response:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        envelope = await read(service(http, CallTally()))

    # then the transport did not expand it: httpx's streaming decoder did, once
    assert raw == compressed
    assert response.headers["Content-Encoding"] == "gzip"
    assert envelope.data == []
    assert server.requests[0].header("Accept-Encoding") == "identity"


def endless(encoding: str) -> Callable[[Exchange], Any]:
    """A body without end (bounded: 2 GiB or 10 s), in 1 MiB pieces."""

    async def handler(exchange: Exchange) -> None:
        headers = f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\nConnection: close\r\n\r\n"
        exchange.writer.write(headers.encode())
        packer = zlib.compressobj(wbits=31)
        loop = asyncio.get_running_loop()
        until = loop.time() + 10
        for _ in range(2048):
            piece = b"0" * 2**20
            if encoding == "gzip":
                piece = packer.compress(piece) + packer.flush(zlib.Z_SYNC_FLUSH)
            exchange.writer.write(piece)
            await exchange.writer.drain()
            await asyncio.sleep(0)  # the client shares this loop; small writes never wait
            if loop.time() > until:
                break
        exchange.hang_up()

    return handler


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_an_endless_body_is_refused_at_the_cap_while_it_streams(
    clients: Callable[..., httpx.AsyncClient], via: Via, encoding: str
) -> None:
    # given a service whose answer never ends
    async with Loopback(endless(encoding)) as server:
        # when it is read, with 3 s for the call
        error = await failing_read(
            service(clients(server.url, via), CallTally(), cap=3), DownstreamInvalidResponseError
        )

    # then refused at the cap as it came in: buffered first, it would have timed out
    assert error.detail == "response body too large"


async def test_a_redirect_is_not_followed(
    clients: Callable[..., httpx.AsyncClient], via: Via
) -> None:
    # given a service that redirects to another server
    async with Loopback(ok) as elsewhere:

        async def redirect(exchange: Exchange) -> None:
            await exchange.answer(302, b"", {"Location": f"{elsewhere.url}/collect"})

        async with Loopback(redirect) as server:
            # when it is read
            error = await failing_read(
                service(clients(server.url, via), CallTally()), DownstreamInvalidResponseError
            )

    # then the redirect is refused, sent once, and nothing went where it pointed
    assert error.detail == "answered 302: redirects are not followed"
    assert len(server.requests) == 1
    assert elsewhere.connections == 0


async def test_proxies_and_netrc_from_the_environment_are_ignored(
    clients: Callable[..., httpx.AsyncClient],
    via: Via,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # given proxies and credentials in the environment, covering loopback too
    async with Loopback(ok) as proxy, Loopback(ok) as server:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, proxy.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        netrc = tmp_path / "netrc"
        netrc.write_text("machine 127.0.0.1 login someone password secret\n")
        monkeypatch.setenv("NETRC", str(netrc))

        # when the service is read
        await read(service(clients(server.url, via), CallTally()))

    # then straight to the service, with the service token only
    assert proxy.connections == 0
    assert server.requests[0].header("Authorization") == f"Bearer {TOKEN}"


async def test_requests_go_out_byte_for_byte_as_httpx_own_transport_sent_them(
    clients: Callable[..., httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a service by name (aiohttp's cookie jar would skip an IP) that sets a cookie,
    # reached through each transport
    loop = asyncio.get_running_loop()
    lookup = loop.getaddrinfo

    async def loopback(host: str, *args: Any, **kwargs: Any) -> Any:
        return await lookup("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", loopback)

    async def cookie(exchange: Exchange) -> None:
        await exchange.answer(200, EMPTY, {**JSON, "Set-Cookie": "sid=1; Path=/"})

    sent: dict[str, list[bytes]] = {}
    for name, via in VIAS.items():
        async with Loopback(cookie) as server:
            # when a batch read (ids joined by commas) and a keyed write are sent
            url = f"http://payments.test:{server.port}"
            client = service(clients(url, via), CallTally())
            await client.get("/v1/businesses", {"ids": "biz_a,biz_b"}, ListEnvelope[Business])
            await client.post(
                "/v1/payments", {"amount": 1}, ListEnvelope[Business], idempotency_key="k"
            )
            # and a write with no body (finalize, void)
            await client.post(
                "/v1/invoices/inv_1/finalize", None, ListEnvelope[Business], idempotency_key="f"
            )
        port = str(server.port).encode()
        sent[name] = [e.head.replace(port, b"PORT") + e.body for e in server.requests]

    # then the same bytes: the query as httpx encoded it, header names in their case, the
    # cookie once (httpx keeps cookies; aiohttp's jar is off)
    assert sent["shipped"] == sent["aiohttp-httpx"] == sent["httpcore"]
    assert sent["shipped"][0].startswith(b"GET /v1/businesses?ids=biz_a%2Cbiz_b HTTP/1.1\r\n")
    assert sent["shipped"][1].count(b"sid=1") == 1
    # and no Content-Type on the write without a body (aiohttp would add octet-stream)
    assert b"content-type" not in sent["shipped"][2].lower()


# --- the pool ------------------------------------------------------------------------


async def test_sequential_calls_share_one_kept_alive_connection(
    clients: Callable[..., httpx.AsyncClient], via: Via
) -> None:
    async with Loopback(ok) as server:
        client = service(clients(server.url, via), CallTally())

        for _ in range(3):
            await read(client)

    assert (server.connections, len(server.requests)) == (1, 3)


async def test_each_new_connection_looks_the_name_up_again(
    clients: Callable[..., httpx.AsyncClient], via: Via, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a service by name that closes each connection after answering (as after a
    # failover), with the name's lookups counted
    loop = asyncio.get_running_loop()
    lookup = loop.getaddrinfo
    looked_up: list[str] = []

    async def counted(host: str | bytes, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host.decode() if isinstance(host, bytes) else host)  # anyio: bytes
        return await lookup("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", counted)

    async def answer_and_close(exchange: Exchange) -> None:
        await exchange.answer(200, EMPTY, {**JSON, "Connection": "close"})
        exchange.hang_up()

    async with Loopback(answer_and_close) as server:
        client = service(clients(f"http://payments.test:{server.port}", via), CallTally())

        # when it is read twice
        await read(client)
        await read(client)

    # then the second connection asked the system again: no address outlives a connection
    assert looked_up == ["payments.test", "payments.test"]
    assert server.connections == 2


async def test_a_header_carrying_a_line_break_is_refused_before_anything_is_sent(
    clients: Callable[..., httpx.AsyncClient], via: Via
) -> None:
    async with Loopback(ok) as server:
        client = clients(server.url, via)

        with pytest.raises(httpx.LocalProtocolError):
            await client.get("/v1/balances", headers={"X-Request-Id": "a\r\nX-Injected: 1"})

    # (both transports connect first; nothing reaches the wire)
    assert server.requests == []


async def test_an_answer_arriving_on_an_idle_connection_is_never_the_next_calls_answer(
    clients: Callable[..., httpx.AsyncClient], via: Via
) -> None:
    # given a faulty service (or proxy) that sends its answer to the first call twice, the
    # copy arriving once the connection is back in the pool
    async def echo_path(exchange: Exchange) -> None:
        path = exchange.head.split(b" ")[1]
        await exchange.answer(200, path)
        if path.endswith(b"/biz_a"):
            await asyncio.sleep(0.05)
            await exchange.answer(200, path)

    async with Loopback(echo_path) as server:
        client = clients(server.url, via)
        first = await client.get("/v1/businesses/biz_a")
        await asyncio.sleep(0.2)

        # when another caller's read goes out after it
        second = await client.get("/v1/businesses/biz_b")

    # then it gets its own answer, on a new connection: the tainted one is discarded
    assert (first.text, second.text) == ("/v1/businesses/biz_a", "/v1/businesses/biz_b")
    assert (server.connections, len(server.requests)) == (2, 2)


async def test_the_pool_opens_at_most_100_connections_and_keeps_50(
    clients: Callable[..., httpx.AsyncClient], via: Via
) -> None:
    # given a service that holds every answer until 100 requests wait (or 1 s passed)
    crowd = asyncio.Event()

    async def gathered(exchange: Exchange) -> None:
        if len(server.requests) >= 100:
            crowd.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(crowd.wait(), 1.0)
        await ok(exchange)

    async with Loopback(gathered) as server:
        http = clients(server.url, via)

        # when 120 calls go at once
        answers = await asyncio.gather(*(http.get("/v1/balances") for _ in range(120)))
        for _ in range(100):  # the closed ones' hang-ups reach the server
            if server.open_now <= 50:
                break
            await asyncio.sleep(0.01)

        # then 100 connections at most, and 50 of them kept once all were answered
        assert [answer.status_code for answer in answers] == [200] * 120
        assert server.open_peak == 100
        assert server.open_now == 50


# --- the shipped transport's own ------------------------------------------------------


def test_the_session_is_made_in_the_loop_of_the_first_call_and_closed_with_the_client() -> None:
    # given transports built outside any event loop, as create_app builds the app
    transports = [ServiceTransport(SERVICE_LIMITS, 2) for _ in range(2)]

    async def serve_once(transport: ServiceTransport) -> tuple[bool, bool]:
        async with Loopback(ok) as server:
            async with build_http_client(server.url, TOKEN, transport=transport) as http:
                before = isinstance(transport.client, aiohttp.ClientSession)
                await read(service(http, CallTally()))
            assert isinstance(transport.client, aiohttp.ClientSession)
            return before, transport.client.closed

    # when each is used and closed in a loop of its own, one after the other
    outcomes = [asyncio.run(serve_once(transport)) for transport in transports]
    gc.collect()  # an unclosed session or connector would warn here (warnings are errors)

    # then no session before the first call, and each closed with its client
    assert outcomes == [(False, True), (False, True)]


async def test_a_client_closed_before_any_call_has_nothing_to_close() -> None:
    transport = ServiceTransport(SERVICE_LIMITS, 2)

    async with build_http_client("http://127.0.0.1:9", TOKEN, transport=transport):
        pass

    assert not isinstance(transport.client, aiohttp.ClientSession)


KEY = ConnectionKey("payments.test", 443, True, True, None, None, None)
BALANCES_URL = URL("https://payments.test/v1/balances")
UNAVAILABLE, TIMEOUT = DownstreamUnavailableError, DownstreamTimeoutError

# aiohttp's failure, the httpx error the transport raises, what ServiceClient makes of it.
MAPPED: list[tuple[aiohttp.ClientError, type[httpx.TransportError], type[DownstreamError], bool]]
MAPPED = [
    (aiohttp.ConnectionTimeoutError("Connection timeout"), httpx.ConnectTimeout, TIMEOUT, True),
    (aiohttp.SocketTimeoutError("Timeout on reading"), httpx.ReadTimeout, TIMEOUT, False),
    (aiohttp.ServerTimeoutError("timeout"), httpx.ReadTimeout, TIMEOUT, False),
    (
        aiohttp.ClientConnectorError(KEY, OSError(111, "refused")),
        httpx.ConnectError,
        UNAVAILABLE,
        True,
    ),
    (
        aiohttp.ClientConnectorCertificateError(KEY, ssl.SSLCertVerificationError("bad")),
        httpx.ConnectError,
        UNAVAILABLE,
        True,
    ),
    (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError, UNAVAILABLE, True),
    (aiohttp.ClientPayloadError("not completed"), httpx.RemoteProtocolError, UNAVAILABLE, True),
    (
        aiohttp.ClientResponseError(
            aiohttp.RequestInfo(BALANCES_URL, "GET", CIMultiDictProxy(CIMultiDict()), BALANCES_URL),
            (),
        ),
        httpx.RemoteProtocolError,
        UNAVAILABLE,
        True,
    ),
    (aiohttp.ClientOSError(104, "Connection reset by peer"), httpx.ReadError, UNAVAILABLE, True),
    (aiohttp.ClientConnectionError("Connection closed"), httpx.ReadError, UNAVAILABLE, True),
    (aiohttp.InvalidURL("payments.test"), httpx.TransportError, UNAVAILABLE, False),
]


@pytest.mark.parametrize(
    ("failure", "mapped", "outcome", "transient"),
    MAPPED,
    ids=[type(row[0]).__name__ for row in MAPPED],
)
async def test_each_aiohttp_failure_maps_to_what_httpx_raises_for_it(
    failure: aiohttp.ClientError,
    mapped: type[httpx.TransportError],
    outcome: type[DownstreamError],
    transient: bool,
) -> None:
    # given the httpx error the transport makes of an aiohttp failure
    request = httpx.Request("GET", BALANCES_URL.human_repr())
    error = map_aiohttp_error(failure, request)
    assert (type(error), error.request) == (mapped, request)

    # when a service client meets it
    def fail(_request: httpx.Request) -> httpx.Response:
        raise error

    async with build_http_client(
        "https://payments.test", TOKEN, transport=httpx.MockTransport(fail)
    ) as http:
        tally = CallTally()
        raised = await failing_read(service(http, tally), DownstreamError)

    # then the boundary's error, resent at once only when transient
    assert (type(raised), raised.transient) == (outcome, transient)
    assert tally.attempts == (ATTEMPTS if transient else 1)


# --- the direct path for reads (app/downstream/direct.py) -----------------------------


async def test_a_plain_read_builds_no_httpx_request_and_an_unusual_one_does(
    clients: Callable[..., httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the shipped client, with httpx's request building counted
    async with Loopback(ok) as server:
        http = clients(server.url)
        built: list[str] = []
        build = http.build_request

        def counted(method: str, url: Any, **kwargs: Any) -> httpx.Request:
            built.append(str(url))
            return build(method, url, **kwargs)

        monkeypatch.setattr(http, "build_request", counted)
        client = service(http, CallTally())

        # when a plain read, a read whose query httpx must encode and a write are sent
        await read(client)
        await client.get("/v1/balances", {"q": "a b"}, ListEnvelope[Business])
        await client.post("/v1/payments", {"a": 1}, ListEnvelope[Business], idempotency_key="k")

    # then only the last two went through httpx's objects
    assert built == ["/v1/balances", "/v1/payments"]
    assert len(server.requests) == 3


async def test_reads_httpx_must_encode_and_reads_after_a_cookie_go_out_alike(
    clients: Callable[..., httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a service by name that sets a cookie on its first answer
    loop = asyncio.get_running_loop()
    lookup = loop.getaddrinfo

    async def loopback(host: str, *args: Any, **kwargs: Any) -> Any:
        return await lookup("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", loopback)
    answered = 0

    async def cookie_once(exchange: Exchange) -> None:
        nonlocal answered
        answered += 1
        extra = {"Set-Cookie": "sid=1; Path=/"} if answered == 1 else {}
        await exchange.answer(200, EMPTY, {**JSON, **extra})

    sent: dict[str, list[bytes]] = {}
    for name, via in VIAS.items():
        answered = 0
        async with Loopback(cookie_once) as server:
            client = service(clients(f"http://payments.test:{server.port}/base", via), CallTally())
            # when reads with a dot segment, a space, a non-ASCII value and an empty
            # value are sent, then a plain read once the cookie is kept
            await client.get("/v1/./balances", {}, ListEnvelope[Business])
            await client.get(
                "/v1/balances", {"q": "a b", "n": "é", "e": ""}, ListEnvelope[Business]
            )
            await client.get("/v1/balances", {"ids": "a,b~c.d-e_f"}, ListEnvelope[Business])
        port = str(server.port).encode()
        sent[name] = [e.head.replace(port, b"PORT") + e.body for e in server.requests]

    # then every path sent the same bytes, the kept cookie on the later reads
    assert sent["shipped"] == sent["aiohttp-httpx"] == sent["httpcore"]
    assert [b"sid=1" in request for request in sent["shipped"]] == [False, True, True]
    assert sent["shipped"][2].startswith(b"GET /base/v1/balances?ids=a%2Cb~c.d-e_f HTTP/1.1")


async def test_a_closed_client_refuses_a_read_on_either_path(
    clients: Callable[..., httpx.AsyncClient], via: Via
) -> None:
    async with Loopback(ok) as server:
        http = clients(server.url, via)
        await http.aclose()

        with pytest.raises(RuntimeError, match="client has been closed"):
            await read(service(http, CallTally()))

    assert server.requests == []
