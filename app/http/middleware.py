"""HTTP-level protections in front of every route, as ASGI middleware: gzip for clients
that accept it, security headers and no-store, CORS from the CORS_ORIGINS allow-list,
JSON-only GraphQL bodies (CSRF), no compressed request bodies, and the request body cap
(413 before anything parses it)."""

from __future__ import annotations

from starlette.middleware import Middleware

from app.core.settings import Settings
from app.http.body_limit import BodySizeLimit
from app.http.compression import GzipAnswers, IdentityBodiesOnly
from app.http.content_type import JsonBodiesOnly
from app.http.cors import cors_middleware
from app.http.security_headers import SecurityHeaders

GRAPHQL_PATH = "/graphql"


def transport_middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: compression sees every answer as the client will get it, refusals
    and the headers of the layers inside included (it only adds Content-Encoding and
    Vary); headers go on every answer, refusals included; CORS answers preflights and
    labels refusals so a browser can read them; the media type and the content coding
    are checked before a body is read, and the body is counted, as sent, before anything
    parses it."""
    return [
        Middleware(GzipAnswers),
        Middleware(SecurityHeaders, hsts=not settings.is_development),
        cors_middleware(settings.cors_origins),
        Middleware(JsonBodiesOnly, paths=(GRAPHQL_PATH,)),
        Middleware(IdentityBodiesOnly),
        Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
    ]
