"""Optional error reporting to Sentry when SENTRY_DSN is set. Only events that an
operator needs: unexpected errors (logged at ERROR with their traceback) reach it, with
no request headers, body, cookies or local variables, so neither tokens nor customer
data leave the gateway this way."""

from __future__ import annotations

import logging
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.transport import Transport

from app.core.settings import Settings
from app.telemetry.logs import redact

_DROPPED_REQUEST_PARTS = ("headers", "cookies", "data", "query_string", "env")


def scrub(event: Any, _hint: object) -> Any:
    request = event.get("request")
    if isinstance(request, dict):
        for part in _DROPPED_REQUEST_PARTS:
            request.pop(part, None)
    for value in event.get("exception", {}).get("values", []) or []:
        if isinstance(value.get("value"), str):
            value["value"] = redact(value["value"])
    return event


def start_error_reporting(settings: Settings, transport: type[Transport] | None = None) -> bool:
    """Called by the process entry point, never by create_app (it is process-wide)."""
    if settings.sentry_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        # Only what the gateway logs at ERROR (an unexpected, masked error, with its
        # traceback): no auto-instrumentation of Starlette or httpx capturing requests.
        default_integrations=False,
        integrations=[LoggingIntegration(level=None, event_level=logging.ERROR)],
        environment=settings.app_env,
        data_collection={
            "user_info": False,
            "http_bodies": [],
            "stack_frame_variables": False,
            "database_query_data": False,
        },
        max_request_body_size="never",
        traces_sample_rate=0.0,
        before_send=scrub,
        transport=transport,
    )
    return True
