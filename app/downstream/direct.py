"""Reads straight onto the service transport's aiohttp session, without an httpx Request
and Response per call: building, merging and tearing down those objects for a dashboard's
6 reads cost about 11 to 13% of its CPU (bench/ab.py: variant `httpxreads`, 1.11x to
1.13x; bench/profiles/NOTE.md).

httpx stays the clients' interface and the tests' seam: a client built with another
transport (httpx.MockTransport in tests, httpcore) never comes here, and neither does a
write (POST: rare, and kept byte for byte on httpx's path). A GET comes here only when
what httpx would send is known without httpx: a path of letters, digits, `_`, `-` and `/`
(no dot segment for httpx to normalise, nothing to percent-encode), query values of those
and `.~,` (httpx encodes a comma as %2C, nothing else of them), and no cookie kept by the
client. Otherwise, and for an answer that sets a cookie or carries a Content-Encoding, the
call (or the answer) goes through httpx's objects as before, so that both paths send the
same bytes, keep the same cookies, decode the same bodies and raise the same errors:
tests/downstream/test_transport.py runs its scenarios through both (`shipped` and
`aiohttp-httpx`) and through httpx's own transport.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
import httpx
from multidict import CIMultiDictProxy
from yarl import URL

from app.downstream.transport import (
    CHUNK_BYTES,
    ServiceTransport,
    mapped,
    refused_locally,
    wrap_body,
)

_PLAIN_PATH = re.compile(r"[A-Za-z0-9_/-]*")
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9_.~,-]*")


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer as ServiceClient reads it, from either path."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class DirectReads:
    """What an httpx client built by build_http_client would send for a GET, computed once:
    its base URL, its headers in httpx's order (Host first) and its timeouts (nothing
    changes a service client's after it is built)."""

    def __init__(self, http: httpx.AsyncClient, transport: ServiceTransport) -> None:
        self._http = http
        self._transport = transport
        base = http.base_url
        # httpx keeps a base URL's path ending in "/" and joins the call's path onto it.
        path = base.raw_path.decode("ascii")
        self._prefix = f"{base.scheme}://{base.netloc.decode('ascii')}{path.rstrip('/')}/"
        self._plain_prefix = not (base.query or base.fragment or base.userinfo)
        self._headers = [("Host", base.netloc.decode("ascii"))] + [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in http.headers.raw
        ]
        timeout = http.timeout
        self._timeout = aiohttp.ClientTimeout(sock_connect=timeout.connect, sock_read=timeout.read)

    def url_for(self, path: str, params: Mapping[str, str] | None) -> str | None:
        """The URL httpx would build, or None when this path cannot promise the same."""
        if not self._plain_prefix or self._http.cookies or not _PLAIN_PATH.fullmatch(path):
            return None
        url = self._prefix + path.lstrip("/")
        if not params:
            return url
        parts = []
        for key, value in params.items():
            if not (_PLAIN_QUERY.fullmatch(key) and _PLAIN_QUERY.fullmatch(value)):
                return None
            parts.append(f"{key}={value}".replace(",", "%2C"))
        return url + "?" + "&".join(parts)

    async def get(self, url: str, headers: Mapping[str, str], cap: int) -> Reply:
        """One GET; aiohttp's failures raised as the httpx errors httpx's path raises, and
        the body read within `cap` bytes (BodyTooLargeError past it)."""
        if self._http.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        session = self._transport.session()
        with refused_locally(None), mapped(None):
            response = await session.request(
                "GET",
                URL(url, encoded=True),
                headers=[*self._headers, *headers.items()],
                allow_redirects=False,
                auto_decompress=False,
                skip_auto_headers=("Content-Type",),
                timeout=self._timeout,
            )
        try:
            answer_headers = response.headers
            if "Set-Cookie" in answer_headers or "Content-Encoding" in answer_headers:
                return await self._through_httpx(url, response, cap)
            declared = answer_headers.get("Content-Length", "")
            with mapped(None):
                body = await read_capped(declared, response.content.iter_chunked(CHUNK_BYTES), cap)
            return Reply(response.status, answer_headers, body)
        finally:
            response.release()
            await response.wait_for_close()

    async def _through_httpx(self, url: str, response: aiohttp.ClientResponse, cap: int) -> Reply:
        # The rare answer httpx does something with: its cookies kept by the client, its
        # body decoded as httpx decodes it (while the cap counts the decoded bytes).
        request = httpx.Request("GET", url)
        wrapped = httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=wrap_body(response, request),
            request=request,
        )
        self._http.cookies.extract_cookies(wrapped)
        headers: CIMultiDictProxy[str] = response.headers
        body = await read_capped(headers.get("Content-Length", ""), wrapped.aiter_bytes(), cap)
        return Reply(response.status, headers, body)


class BodyTooLargeError(Exception):
    """The answer's body is, or says it is, larger than the caller accepts."""


async def read_capped(declared: str, chunks: AsyncIterator[bytes], cap: int) -> bytes:
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLargeError
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > cap:
            raise BodyTooLargeError
        parts.append(chunk)
    return b"".join(parts)
