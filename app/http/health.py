"""/healthz: the process answers. /readyz: the database and both downstream services
answer, checked concurrently with a short timeout; 503 with the failing parts otherwise.

With several regions' databases (app/residency/) each is checked (`database_GB`,
`database_IN`, and the gauge gateway_region_database_up). One region's database down
must not take every replica out of the load balancer: that would stop the other region's
payments too, while the down region's mutations already get a typed DOWNSTREAM_UNAVAILABLE
answer. So: 200 "ready" when everything answers, 200 "degraded" when at least one
region's database answers, 503 "unavailable" when none does or a downstream service
does not (alert on the gauge, not on readiness).
Reasons are coarse on purpose: no URLs, hosts or error texts leave the gateway, and only
an operator (app/http/operator.py) sees them and the circuits; anyone else gets the
status alone, with the same HTTP status."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import httpx
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.http.operator import is_operator
from app.wiring.resources import ResourceHolder

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0
# An id that matches the contract's pattern but names nothing: the service must answer
# 200 with an empty list, which proves it is up and accepts our service token.
_PROBE_BUSINESS_ID = "biz_readinessprobe"


_DATABASE = "database_"


def _status(checks: dict[str, str]) -> str:
    if all(result == "ok" for result in checks.values()):
        return "ready"
    databases = [r for name, r in checks.items() if name.startswith("database")]
    others = [r for name, r in checks.items() if not name.startswith("database")]
    if "ok" in databases and all(result == "ok" for result in others):
        return "degraded"
    return "unavailable"


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


class Readiness:
    """The checks run at most once per READINESS_CACHE_SECONDS however many probes
    arrive (and concurrent probes share one run): a fleet of load balancers polling
    every replica must not become load on the services it is checking."""

    def __init__(self, holder: ResourceHolder, clock: Callable[[], float] = time.monotonic) -> None:
        self._holder = holder
        self._clock = clock
        self._lock = asyncio.Lock()
        self._cached: tuple[float, dict[str, str]] | None = None

    async def endpoint(self, request: Request) -> JSONResponse:
        resources = self._holder.resources
        checks = await self._checks(resources.settings.readiness_cache_seconds)
        status = _status(checks)
        code = 503 if status == "unavailable" else 200
        if not is_operator(request, resources.settings):
            return JSONResponse(
                {"status": status}, status_code=code, headers={"Cache-Control": "no-store"}
            )
        return JSONResponse(
            {
                "status": status,
                "checks": checks,
                # What calls meet right now; an open circuit heals by itself, so it is
                # shown, not held against readiness (the checks above probe directly).
                "circuits": {
                    channel.name: channel.breaker.state.value
                    for channel in (resources.invoicing, resources.payments)
                },
            },
            status_code=code,
            headers={"Cache-Control": "no-store"},
        )

    async def _checks(self, ttl: float) -> dict[str, str]:
        async with self._lock:
            if self._cached is not None and self._clock() - self._cached[0] < ttl:
                return self._cached[1]
            checks = await self._run_checks()
            self._cached = (self._clock(), checks)
            return checks

    async def _run_checks(self) -> dict[str, str]:
        resources = self._holder.resources
        regions = resources.regions.all
        names = (
            ("database",)
            if len(regions) == 1
            else tuple(f"{_DATABASE}{region.name}" for region in regions)
        ) + ("invoicing", "payments")
        results = await asyncio.gather(
            *(self._check_database(region.engine) for region in regions),
            self._check_service(
                resources.invoicing.http, "/v1/businesses", {"ids": _PROBE_BUSINESS_ID}
            ),
            self._check_service(
                resources.payments.http, "/v1/balances", {"business_ids": _PROBE_BUSINESS_ID}
            ),
        )
        checks = dict(zip(names, results, strict=True))
        for region, result in zip(regions, results, strict=False):
            resources.metrics.region_database_up.labels(region.name).set(result == "ok")
        if any(result != "ok" for result in results):
            logger.warning("not ready", extra={"checks": checks})
        return checks

    async def _check_database(self, engine: AsyncEngine) -> str:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                async with engine.connect() as connection:
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
