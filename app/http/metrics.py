"""GET /metrics in Prometheus' text format. Development serves it to anyone; production
only to a scraper presenting METRICS_TOKEN, and not at all (404) without one configured:
operation names and downstream routes are not for the public internet."""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from app.wiring.resources import ResourceHolder


class MetricsEndpoint:
    def __init__(self, holder: ResourceHolder) -> None:
        self._holder = holder

    async def endpoint(self, request: Request) -> Response:
        resources = self._holder.resources
        settings = resources.settings
        if not settings.is_development:
            token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
            if not token:
                return PlainTextResponse("Not Found", status_code=404)
            offered = request.headers.get("authorization", "")
            if not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
                return PlainTextResponse(
                    "Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )
        return Response(
            generate_latest(resources.metrics.registry),
            media_type=CONTENT_TYPE_LATEST,
            headers={"Cache-Control": "no-store"},
        )
