"""/healthz: the process answers. /readyz: the database and both downstream services
answer, checked concurrently with a short timeout; 503 with the failing parts otherwise.
Reasons are coarse on purpose: no URLs, hosts or error texts leave the gateway."""

from __future__ import annotations

import asyncio
import logging

import httpx
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.resources import ResourceHolder

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0
# An id that matches the contract's pattern but names nothing: the service must answer
# 200 with an empty list, which proves it is up and accepts our service token.
_PROBE_BUSINESS_ID = "biz_readinessprobe"


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


class Readiness:
    def __init__(self, holder: ResourceHolder) -> None:
        self._holder = holder

    async def endpoint(self, _request: Request) -> JSONResponse:
        resources = self._holder.resources
        names = ("database", "invoicing", "payments")
        results = await asyncio.gather(
            self._check_database(),
            self._check_service(
                resources.invoicing_http, "/v1/businesses", {"ids": _PROBE_BUSINESS_ID}
            ),
            self._check_service(
                resources.payments_http, "/v1/balances", {"business_ids": _PROBE_BUSINESS_ID}
            ),
        )
        checks = dict(zip(names, results, strict=True))
        ready = all(result == "ok" for result in results)
        if not ready:
            logger.warning("not ready", extra={"checks": checks})
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
            headers={"Cache-Control": "no-store"},
        )

    async def _check_database(self) -> str:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                async with self._holder.resources.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except TimeoutError:
            return "timeout"
        except (SQLAlchemyError, OSError) as exc:
            # asyncpg's refused connection surfaces as a bare OSError.
            logger.warning("database not ready: %s", type(exc).__name__)
            return "unreachable"
        return "ok"

    async def _check_service(
        self, client: httpx.AsyncClient, path: str, params: dict[str, str]
    ) -> str:
        try:
            response = await client.get(path, params=params, timeout=CHECK_TIMEOUT_SECONDS)
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError:
            return "unreachable"
        if response.status_code == 401:
            return "service token refused"
        return "ok" if response.status_code == 200 else f"answered {response.status_code}"
