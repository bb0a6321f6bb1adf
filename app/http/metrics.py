"""GET /metrics in Prometheus' text format. Development serves it to anyone; production
only to a scraper presenting METRICS_TOKEN, and not at all (404) without one configured:
operation names and downstream routes are not for the public internet."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from app.http.operator import is_operator, operator_token
from app.wiring.resources import ResourceHolder


class MetricsEndpoint:
    def __init__(self, holder: ResourceHolder) -> None:
        self._holder = holder

    async def endpoint(self, request: Request) -> Response:
        resources = self._holder.resources
        settings = resources.settings
        if not is_operator(request, settings):
            if not operator_token(settings):
                return PlainTextResponse("Not Found", status_code=404)
            return PlainTextResponse(
                "Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return Response(
            generate_latest(resources.metrics.registry),
            media_type=CONTENT_TYPE_LATEST,
            headers={"Cache-Control": "no-store"},
        )
