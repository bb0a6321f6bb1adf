"""Content codings at the edge: answers are gzip-compressed for a client that accepts it
(mobile apps on slow networks); request bodies are never decoded.

Answers. Starlette's own GZipMiddleware does the compressing (Vary: Accept-Encoding,
Content-Length rewritten, streaming bodies flushed chunk by chunk, an answer that already
has a Content-Encoding left alone, large bodies compressed off the event loop). It decides
with a substring test, though (`"gzip" in Accept-Encoding`), so `gzip;q=0`, which
refuses gzip, would get gzip. `GzipAnswers` therefore reads the header as RFC 9110
(section 12.5.3) does, q-values and `*` included, and hands the rest of the stack
`Accept-Encoding: gzip` or `identity` accordingly; the GraphiQL assets, which are served
pre-compressed, follow the same decision.

- Threshold `MINIMUM_SIZE`, 512 bytes (a constant: contracts/ names no setting for it).
  Measured on the gateway's real answers (table below): under ~150 bytes gzip makes an
  answer larger (its 18 bytes of framing outweigh what it finds); from 150 to 500 bytes
  it saves 50 to 120 bytes (2 ms at 400 kbit/s at most), of which the Content-Encoding
  and Vary lines it adds take back 45; from about 1 KiB it halves the answer, and on the
  dashboard (24 KB) it saves 89% and a round trip (24 KB exceeds TCP's initial window of
  ten segments, 2.6 KB does not). 512 sits between the two: the smallest answers
  (`viewer`, refusals, one object) stay identity, every list is compressed.
- Level `LEVEL`, 6 (zlib's default; Starlette's is 9): level 9 costs twice the CPU on the
  dashboard for 2% fewer bytes; level 1 costs a quarter but leaves 27% more bytes (700
  on the dashboard, 14 ms at 400 kbit/s). At 6 the dashboard's gzip costs 0.21 ms of
  CPU, 0.8% of the 26.6 ms the gateway spends on that request (README, Performance).
- What: every media type except HTML and Starlette's already-compressed ones (images,
  archives, event streams). JSON answers are the point. GET /metrics (Prometheus text) is
  compressed only for a scraper that asks: Prometheus sends `Accept-Encoding: gzip` and
  decodes it (prometheus_client's own exporter does the same), and one that does not ask
  gets identity, so no scraper breaks.
- Not HTML: the GraphiQL page carries the demo token in development; it is small, and
  keeping it out of compression keeps it out of any compression oracle, whatever changes.

Why gzip only. Every client decodes gzip (browsers, OkHttp on Android transparently,
URLSession on iOS). On these answers brotli and zstd do not earn a native dependency:
brotli at quality 4 is 0.5 to 5% smaller than gzip-6, at 5 and 6 it saves 7 to 13% more
(344 bytes on the dashboard) for 50% more CPU; zstd at level 3 is 2.5 to 6 times cheaper
but 3 to 6% larger (bench/README.md). Each would also need an ASGI wrapper, and the maintained
ones (starlette-compress, brotli-asgi) choose the coding by substring too, so `br;q=0`
would get br; starlette-compress also keeps its compressible types in module-global
state (HTML cannot be left out for one app). Python 3.11 has no zstd in its standard
library (3.14 adds one). Revisit if answers grow or a wrapper reads q-values.

BREACH (a compression side channel: an attacker who can make a victim's client send
requests with attacker-chosen text reflected next to a secret in a compressed answer
learns the secret from the answer sizes). It needs the victim's credentials to ride along
automatically, as cookies do. The gateway authenticates only with a bearer token in the
Authorization header, which a browser never attaches on its own and sends cross-origin
only after a CORS preflight from an allowed origin (app/http/cors.py, no credentials).
A cross-site attacker's forged requests are therefore unauthenticated, and their answers
hold no secret of the victim's. The answers carry no CSRF token or session secret either.

Requests. A request body with a Content-Encoding other than identity is refused with 415
(RFC 9110 section 15.5.16, naming `Accept-Encoding: identity`) before a byte is read:
nothing here decodes one, so the body cap (app/http/body_limit.py) counts the bytes that
are parsed, and a decompression bomb has nothing to inflate. Before this module such a body
went to the JSON parser as it was.

Measured (`python -m bench.compression`, 2026-12-03, AMD EPYC VM, 2 vCPUs shared; bytes
after gzip and µs of CPU per answer, by level; the identity answer's bytes first):

  answer                 identity   gzip-1        gzip-6        gzip-9
  viewer                       39     56 /  5 µs    56 /  5 µs    56 /  5 µs
  401 refusal                 124    131 /  7      131 /  7      131 /  7
  business and balance        362    244 / 17      239 / 16      239 / 18
  dashboard, 1 invoice        972    565 / 16      542 / 19      542 / 18
  b) invoice detail          2003    671 / 17      631 / 25      629 / 25
  dashboard, 10 invoices     5549   1266 / 27     1098 / 51     1088 / 56
  c) nodes, 50 ids           8072   1307 / 27     1088 / 63     1066 / 97
  a) dashboard, 50          24089   3344 / 58     2628 / 214    2570 / 420

The middleware itself (Starlette's responder, headers rewritten) adds about 10 µs to
an answer it compresses and 1 µs to one it does not.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.refusal import refusal

MINIMUM_SIZE = 512
LEVEL = 6
EXCLUDED_CONTENT_TYPES = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "text/html")
_GZIP = frozenset({"gzip", "x-gzip"})


def _quality(parameters: list[str]) -> float:
    """The q-value of one Accept-Encoding member; a malformed one accepts nothing."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether Accept-Encoding allows gzip: named with q > 0, or not named and `*` with
    q > 0. No header at all is taken as identity: clients that decode gzip say so."""
    if accept_encoding is None:
        return False
    named: float | None = None
    wildcard: float | None = None
    for member in accept_encoding.split(","):
        coding, *parameters = (part.strip() for part in member.split(";"))
        coding = coding.lower()
        if coding in _GZIP:
            named = max(named or 0.0, _quality(parameters))
        elif coding == "*":
            wildcard = _quality(parameters)
    if named is not None:
        return named > 0.0
    return wildcard is not None and wildcard > 0.0


class GzipAnswers:
    """Answers compressed with gzip when accepted and at least `minimum_size` bytes."""

    def __init__(
        self, app: ASGIApp, *, minimum_size: int = MINIMUM_SIZE, level: int = LEVEL
    ) -> None:
        self.app = app
        self._gzip = GZipMiddleware(
            app,
            minimum_size=minimum_size,
            compresslevel=level,
            exclude_content_types=EXCLUDED_CONTENT_TYPES,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Several Accept-Encoding fields are one comma-separated list (RFC 9110 5.3).
        offered = Headers(scope=scope).getlist("accept-encoding")
        decided = b"gzip" if accepts_gzip(", ".join(offered) if offered else None) else b"identity"
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
        scope = {**scope, "headers": [*headers, (b"accept-encoding", decided)]}

        async def send_weakened(message: Message) -> None:
            # A strong ETag names exact bytes; the compressed ones are others (RFC 9110
            # 8.8.1), so it is weakened as nginx does. Weak comparison still matches.
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                etag = headers.get("etag")
                if etag and headers.get("content-encoding") == "gzip" and etag[:2] != "W/":
                    headers["ETag"] = f"W/{etag}"
            await send(message)

        await self._gzip(scope, receive, send_weakened)


class IdentityBodiesOnly:
    """415 for a request body with a content coding: none is decoded here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            codings = [
                coding.strip().lower()
                for field in Headers(scope=scope).getlist("content-encoding")
                for coding in field.split(",")
            ]
            if any(coding not in ("", "identity") for coding in codings):
                response = refusal(
                    415,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "Request bodies must not be compressed (no Content-Encoding).",
                    **{"Accept-Encoding": "identity"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
