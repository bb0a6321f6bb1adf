"""HTTP-level protections in front of every route, as ASGI middleware: security headers
and no-store, CORS from the CORS_ORIGINS allow-list, JSON-only GraphQL bodies (CSRF), and
the request body cap (413 before anything parses it)."""

from __future__ import annotations

from starlette.middleware import Middleware

from app.core.settings import Settings
from app.http.body_limit import BodySizeLimit
from app.http.content_type import JsonBodiesOnly
from app.http.cors import cors_middleware
from app.http.security_headers import SecurityHeaders

GRAPHQL_PATH = "/graphql"


def transport_middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: headers go on every answer, refusals included; CORS answers
    preflights and labels refusals so a browser can read them; the media type is
    checked before a body is read, and the body is counted before anything parses it."""
    return [
        Middleware(SecurityHeaders, hsts=not settings.is_development),
        cors_middleware(settings.cors_origins),
        Middleware(JsonBodiesOnly, paths=(GRAPHQL_PATH,)),
        Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
    ]
