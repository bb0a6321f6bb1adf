"""CORS from the CORS_ORIGINS allow-list only (settings refuse `*`). Credentials are
never allowed: the gateway authenticates with a bearer token in the Authorization header,
which a browser sends cross-origin only after a preflight names it, and never with
cookies. An origin not on the list gets no Access-Control-Allow-Origin, and its preflight
is refused."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from app.http.budget import EXPOSED as BUDGET_HEADERS

ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Request-Id", "traceparent")
EXPOSED_HEADERS = ("X-Request-Id", "Retry-After", *BUDGET_HEADERS)
PREFLIGHT_MAX_AGE_SECONDS = 600


def cors_middleware(origins: Sequence[str]) -> Middleware:
    return Middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["GET", "POST"],
        allow_headers=list(ALLOWED_HEADERS),
        expose_headers=list(EXPOSED_HEADERS),
        allow_credentials=False,
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
    )
