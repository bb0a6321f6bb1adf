"""The baseline's downstream side: one exchange-as-bytes seam (aiohttp when served, httpx
in tests) and a per-request service that validates every body with the gateway's models."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from app.downstream.models import ListEnvelope

JSON = dict[str, Any]
ModelT = TypeVar("ModelT", bound=BaseModel)


class DownstreamFailedError(Exception):
    pass


class RefusedError(Exception):
    def __init__(self, status: int, body: JSON) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class Http(Protocol):
    """The one thing the baseline needs from an HTTP client: an exchange, as bytes."""

    async def exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> tuple[int, bytes]: ...


class AiohttpHttp:
    def __init__(self, session: Any) -> None:
        self._session = session

    async def exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> tuple[int, bytes]:
        async with self._session.request(
            method, url, params=params, headers=headers, data=body
        ) as r:
            return r.status, await r.read()


class Service:
    """One downstream service for one request: its client, base URL and request id."""

    def __init__(self, http: Http, base_url: str, request_id: str) -> None:
        self._http = http
        self._base = base_url
        self._headers = {"X-Request-Id": request_id}

    async def read(self, path: str, params: Mapping[str, str], model: type[ModelT]) -> ModelT:
        status, body = await self._http.exchange(
            "GET", self._base + path, params, self._headers, None
        )
        if status != 200:
            raise DownstreamFailedError(f"GET {path}: {status}")
        return model.model_validate_json(body)

    async def write(
        self, path: str, body: JSON, model: type[ModelT], *, key: str, actor: str
    ) -> ModelT:
        headers = {
            **self._headers,
            "Idempotency-Key": key,
            "X-Actor-Id": actor,
            "Content-Type": "application/json",
        }
        status, raw = await self._http.exchange(
            "POST", self._base + path, None, headers, json.dumps(body).encode()
        )
        if status not in (200, 201):
            raise DownstreamFailedError(f"POST {path}: {status}")
        return model.model_validate_json(raw)

    async def items(self, path: str, param: str, ids: list[str], model: type[ModelT]) -> list[Any]:
        if not ids:
            return []
        envelope = await self.read(path, {param: ",".join(ids)}, ListEnvelope[model])  # type: ignore[valid-type]
        return list(envelope.data)
