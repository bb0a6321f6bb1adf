"""The service clients' transport: httpx's API over aiohttp's connection pool and C HTTP
parser. httpx's own transport (httpcore, anyio, h11) spends about 0.25 ms more CPU per
downstream call, 5 to 8% of a dashboard request's CPU (bench/ab.py, variant httpcore).

A subclass of httpx-aiohttp's transport that keeps its TLS context (built by httpx itself:
verification on, the default CA bundle) and its close, and replaces its request path.
That path (0.2.0) cannot be fixed from outside: its exception mapping is woven into both
the request and the body stream, and it makes every aiohttp ClientConnectionError (a
refusal, a reset, a TLS failure, a server disconnect; before aiohttp 3.10 the read timeout
too) a ConnectTimeout, which ServiceClient resends as never sent. It also re-quotes the
URL httpx encoded, bounds the wait for a pooled connection with aiohttp's connect timeout
(so a busy pool looks like a connect timeout), and leaves the session resending idempotent
requests by itself. So the request, the body and the session are ours.

Everything else stays as httpx's own transport had it, and tests/downstream/test_transport.py
holds both to the same answers: no redirects, no decompression (httpx's decoder does it
while ServiceClient counts), nothing from the environment, 100 connections with at most
50 kept alive, no idle connection reused with bytes waiting on it, no DNS cache, a header
with a line break refused before sending, the connect timeout (DNS, TCP and TLS) and the
read timeout per request.
aiohttp has no write timeout, and the wait for a free connection gets none here: the call's
own asyncio.timeout bounds both (a timeout, not resent), as it did before httpx's pool and
write timeouts (REQUEST_TIMEOUT_SECONDS, 10 s by default) outlast the 5 s call cap.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from ssl import SSLContext

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ConnectionKey
from aiohttp.connector import Connection
from aiohttp.tracing import Trace
from httpx_aiohttp import AiohttpTransport
from yarl import URL

# As httpcore reads: bounded chunks, so ServiceClient's size cap sees the body as it comes.
CHUNK_BYTES = 64 * 1024

# What ServiceClient makes of each (service.py, _exchange): a connect failure or timeout
# never reached the service and is resent at once; a connection lost or an answer that is
# not HTTP is resent as httpx reported them (RemoteProtocolError, ReadError); a read
# timeout is not, the service may be working on it. First match wins, specific first.
MAPPING: tuple[tuple[type[aiohttp.ClientError], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    # Refused, unreachable, DNS failure, TLS handshake or certificate refused.
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    # The body cut short of its Content-Length or chunked end.
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    # The answer's status line or headers do not parse.
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    # Reset, broken pipe, "Connection closed" while reading.
    (aiohttp.ClientConnectionError, httpx.ReadError),
)


def map_aiohttp_error(
    exc: aiohttp.ClientError, request: httpx.Request | None
) -> httpx.TransportError:
    """The httpx error httpx's own transport raises for the same failure; anything not
    known here is a plain TransportError, which ServiceClient never resends."""
    for aiohttp_type, httpx_type in MAPPING:
        if isinstance(exc, aiohttp_type):
            return httpx_type(str(exc), request=request)
    return httpx.TransportError(str(exc), request=request)


@contextmanager
def mapped(request: httpx.Request | None) -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientError as exc:
        raise map_aiohttp_error(exc, request) from exc


@contextmanager
def refused_locally(request: httpx.Request | None) -> Iterator[None]:
    # aiohttp refuses a header value with CR, LF or NUL (header injection) by a bare
    # ValueError before sending anything; httpx's own transport raises this for it. Used
    # outside mapped: aiohttp's certificate errors are ValueErrors too, and connect errors.
    try:
        yield
    except ValueError as exc:
        raise httpx.LocalProtocolError(str(exc), request=request) from exc


class ServiceTransport(AiohttpTransport):
    def __init__(self, limits: httpx.Limits, connect_seconds: float | None) -> None:
        self._connect_seconds = connect_seconds
        # The session is made on the first request: aiohttp binds it to the running loop,
        # and the client is built before the lifespan's loop runs anything.
        super().__init__(verify=True, trust_env=False, limits=limits, client=self._open_session)

    def _open_session(self) -> aiohttp.ClientSession:
        connector = _Pool(
            self.limits,
            ssl=self.ssl_context,
            resolver=_BoundedResolver(self._connect_seconds),
        )
        session = aiohttp.ClientSession(
            connector=connector,
            # httpx keeps the cookies, above the transport.
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            auto_decompress=False,
        )
        # aiohttp resends an idempotent request once by itself when the connection drops;
        # ServiceClient's policy decides resends, and counts every attempt. aiohttp's own
        # test utilities switch it off the same way; test_transport.py pins it.
        session._retry_connection = False
        return session

    def session(self) -> aiohttp.ClientSession:
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        return self.client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self.session()
        timeout = request.extensions.get("timeout", {})
        with refused_locally(request), mapped(request):
            response = await session.request(
                request.method,
                # As httpx built it: yarl would re-quote (%2C back to a comma), and header
                # names keep their case.
                URL(str(request.url), encoded=True),
                headers=[
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                ],
                data=await request.aread() or None,
                allow_redirects=False,
                auto_decompress=False,
                # aiohttp would label a POST without a body application/octet-stream;
                # httpx sets Content-Type itself whenever there is a body.
                skip_auto_headers=("Content-Type",),
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"), sock_read=timeout.get("read")
                ),
            )
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=wrap_body(response, request),
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )


def wrap_body(response: aiohttp.ClientResponse, request: httpx.Request) -> httpx.AsyncByteStream:
    return _Body(response, request)


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with mapped(self._request):
            async for chunk in self._response.content.iter_chunked(CHUNK_BYTES):
                yield chunk

    async def aclose(self) -> None:
        # Back to the pool when read to the end; a connection with unread body is closed.
        self._response.release()
        await self._response.wait_for_close()


class _Pool(aiohttp.TCPConnector):
    """aiohttp bounds the connections open, not those kept alive: httpx kept at most
    `max_keepalive_connections` idle and closed the others as they were released."""

    def __init__(
        self, limits: httpx.Limits, *, ssl: SSLContext, resolver: AbstractResolver
    ) -> None:
        super().__init__(
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry,
            ssl=ssl,
            resolver=resolver,
            # httpx asks the system on each new connection; aiohttp's 10 s cache would
            # keep a failed-over service's old address.
            use_dns_cache=False,
        )
        self._max_idle = limits.max_keepalive_connections

    async def _get(self, key: ConnectionKey, traces: list[Trace]) -> Connection | None:
        # aiohttp reuses any idle connection still open. Bytes that came in while it sat
        # idle (a duplicated or late answer from a faulty service or proxy) would be read
        # as the next request's answer: another caller's data, or a POST "answered" by a
        # stale response. httpcore discards such a connection; so do we.
        while (connection := await super()._get(key, traces)) is not None:
            protocol = connection.protocol
            if protocol is not None and not protocol.should_close:
                return connection
            connection.close()
        return None

    def _release(
        self, key: ConnectionKey, protocol: ResponseHandler, *, should_close: bool = False
    ) -> None:
        idle = sum(len(kept) for kept in self._conns.values())
        full = self._max_idle is not None and idle >= self._max_idle
        super()._release(key, protocol, should_close=should_close or full)


class _BoundedResolver(aiohttp.ThreadedResolver):
    """The DNS lookup is part of connecting, as in httpx: aiohttp's sock_connect covers
    TCP and TLS only, and its `connect` timeout would also cover the pool wait."""

    def __init__(self, seconds: float | None) -> None:
        super().__init__()
        self._seconds = seconds

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        # aiohttp reports a TimeoutError from here as ConnectionTimeoutError.
        async with asyncio.timeout(self._seconds):
            return await super().resolve(host, port, family)
