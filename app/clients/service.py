"""One downstream service over HTTP: service auth, tracing headers, error translation
and response validation, in one place."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from app.clients.errors import (
    DownstreamError,
    DownstreamInvalidResponseError,
    DownstreamRateLimitedError,
    DownstreamRejectedError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
)

ModelT = TypeVar("ModelT", bound=BaseModel)

# Bodies larger than this are refused rather than parsed: a lying service must not be
# able to make the gateway buffer and decode megabytes.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CallMeta:
    """What every downstream call of one GraphQL request carries."""

    request_id: str
    traceparent: str | None = None
    actor_id: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {"X-Request-Id": self.request_id}
        if self.traceparent:
            headers["traceparent"] = self.traceparent
        return headers


def build_http_client(
    base_url: str,
    token: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout_seconds: float = 5,
) -> httpx.AsyncClient:
    """The one pooled client for a service, owned by the app's lifespan."""
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 2)),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
        transport=transport,
        follow_redirects=False,
        trust_env=False,
    )


class ServiceClient:
    def __init__(self, name: str, http: httpx.AsyncClient, meta: CallMeta) -> None:
        self.name = name
        self._http = http
        self._meta = meta

    async def get(self, path: str, params: Mapping[str, str], model: type[ModelT]) -> ModelT:
        response = await self._send("GET", path, params=params)
        return self._parse(response, model)

    async def _send(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None
    ) -> httpx.Response:
        try:
            response = await self._http.request(
                method, path, params=params, headers=self._meta.headers()
            )
        except httpx.TimeoutException as exc:
            raise DownstreamTimeoutError(self.name, f"{method} timed out") from exc
        except httpx.HTTPError as exc:
            raise DownstreamUnavailableError(
                self.name, f"{method} failed: {type(exc).__name__}"
            ) from exc
        if response.status_code >= 400:
            raise self._error_for(response)
        return response

    def _error_for(self, response: httpx.Response) -> DownstreamError:
        status = response.status_code
        if status == 429:
            return DownstreamRateLimitedError(self.name, _retry_after(response))
        if status >= 500:
            return DownstreamUnavailableError(self.name, f"answered {status}")
        code, param = _error_code(response)
        if status == 401:
            # The gateway's own service token was refused: an operator problem, not the
            # caller's. Never shown as a client error.
            return DownstreamUnavailableError(self.name, "refused the service token (401)")
        return DownstreamRejectedError(self.name, status, code, param)

    def _parse(self, response: httpx.Response, model: type[ModelT]) -> ModelT:
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise DownstreamInvalidResponseError(self.name, "response body too large")
        try:
            payload: Any = json.loads(response.content, parse_constant=_reject_constant)
            return model.model_validate(payload)
        except (ValueError, ValidationError) as exc:
            raise DownstreamInvalidResponseError(
                self.name, "response body violates the contract"
            ) from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("Retry-After", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 6 else None


def _error_code(response: httpx.Response) -> tuple[str, str | None]:
    try:
        error = json.loads(response.content)["error"]
        code, param = error["code"], error.get("param")
    except (ValueError, KeyError, TypeError):
        return "unknown", None
    if not isinstance(code, str):
        return "unknown", None
    return code[:64], param[:64] if isinstance(param, str) else None
