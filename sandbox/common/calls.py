"""The log of requests received, read by gateway tests through GET /_sandbox/calls."""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

RECORDED_HEADERS = ("idempotency-key", "x-actor-id", "x-request-id", "traceparent")
ADMIN_PREFIX = "/_sandbox/"


class CallLog:
    def __init__(self) -> None:
        self._calls: list[dict[str, Any]] = []

    def record(self, scope: Scope) -> None:
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            if name in RECORDED_HEADERS and name not in headers:
                headers[name] = raw_value.decode("latin-1")
        self._calls.append(
            {
                "method": scope["method"],
                "path": scope["path"],
                "query": scope["query_string"].decode("latin-1"),
                "headers": {name: headers.get(name) for name in RECORDED_HEADERS},
            }
        )

    def all(self) -> list[dict[str, Any]]:
        return list(self._calls)

    def clear(self) -> None:
        self._calls.clear()
