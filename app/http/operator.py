"""Who may read the gateway's operational detail (/metrics, /readyz's checks): anyone in
development; in production only a caller presenting METRICS_TOKEN, compared in constant
time. Dependency states and circuit positions tell an attacker what is failing."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from app.core.settings import Settings


def operator_token(settings: Settings) -> str:
    return settings.metrics_token.get_secret_value() if settings.metrics_token else ""


def is_operator(request: Request, settings: Settings) -> bool:
    if settings.is_development:
        return True
    token = operator_token(settings)
    if not token:
        return False
    offered = request.headers.get("authorization", "")
    return hmac.compare_digest(offered.encode(), f"Bearer {token}".encode())
