"""What the app holds open for its lifetime: the regions' database engines and stores
(app/residency/: one engine per distinct URL, one by default), one pooled HTTP client
per downstream service, the token verifier, the rate limiters and the persisted-query
store. Opened and closed by the lifespan (app/main.py) only."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial

import httpx
from opentelemetry.sdk.trace.export import SpanExporter

from app.auth.jwks import JwksCache
from app.auth.verified import DEFAULT_SIZE as DEFAULT_VERIFIED_TOKENS
from app.auth.verifier import JwtConfig, JwtVerifier
from app.core.settings import Settings
from app.downstream.breaker import BreakerState, CircuitBreaker
from app.downstream.coalesce import SingleFlight
from app.downstream.retry import RetryPolicy
from app.downstream.service import Channel, build_http_client
from app.persisted.manifest import load_manifest
from app.persisted.policy import PersistedQueries
from app.persisted.store import ApqStore
from app.ratelimit.limiter import Clock
from app.ratelimit.setup import RateLimits, open_rate_limits
from app.residency.jurisdictions import Jurisdictions
from app.residency.regions import Regions, open_regions
from app.telemetry.downstream import DownstreamTelemetry
from app.telemetry.metrics import Metrics
from app.telemetry.tracing import Tracing, build_tracing

logger = logging.getLogger(__name__)

# Test seam: tests hand in ASGI transports to reach in-process sandbox apps.
Transports = Mapping[str, httpx.AsyncBaseTransport]


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    # Each region's engine and stores of money records: idempotency keys, outbox, the
    # settlement watch, domain events (published by each region's event relay).
    regions: Regions
    # Business id -> jurisdiction, learnt once per process.
    jurisdictions: Jurisdictions
    verifier: JwtVerifier
    # The calendar date "overdue" is judged against (UTC); replaceable in tests.
    today: Callable[[], date]
    invoicing: Channel
    payments: Channel
    metrics: Metrics
    tracing: Tracing | None
    rate_limits: RateLimits
    persisted_queries: PersistedQueries


class ResourceHolder:
    """Lets routes built before start-up reach what the lifespan opened."""

    def __init__(self) -> None:
        self._resources: Resources | None = None

    @property
    def resources(self) -> Resources:
        if self._resources is None:
            raise RuntimeError("the application has not started (lifespan not run)")
        return self._resources

    def set(self, resources: Resources | None) -> None:
        self._resources = resources


def _secret(value: object) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter else ""


def utc_today() -> date:
    return datetime.now(UTC).date()


def persisted_queries(settings: Settings) -> PersistedQueries:
    """A manifest that does not load or check out stops the start, naming the entry."""
    manifest = (
        load_manifest(settings.persisted_queries_manifest)
        if settings.persisted_queries_manifest
        else {}
    )
    store = ApqStore(
        max_entries=settings.persisted_queries_cache_size,
        max_document_bytes=settings.persisted_queries_max_bytes,
    )
    return PersistedQueries(settings.persisted_queries, store, manifest)


@asynccontextmanager
async def open_resources(
    settings: Settings,
    transports: Transports | None = None,
    today: Callable[[], date] = utc_today,
    span_exporter: SpanExporter | None = None,
    clock: Clock | None = None,
    *,
    one_pass_json: bool = True,
    direct_reads: bool = True,
    lazy_retries: bool = True,
    verified_tokens: int = DEFAULT_VERIFIED_TOKENS,
    single_flight: bool = True,
) -> AsyncIterator[Resources]:
    transports = transports or {}
    metrics = Metrics()
    persisted = persisted_queries(settings)
    async with AsyncExitStack() as stack:
        tracing = build_tracing(
            settings.otel_service_name, settings.otel_exporter_otlp_endpoint, span_exporter
        )
        if tracing is not None:
            stack.callback(tracing.shutdown)
        observer = DownstreamTelemetry(metrics, tracing)
        policy = RetryPolicy(max_attempts=settings.downstream_max_attempts)
        regions = await open_regions(
            settings.regional_database_urls(),
            stack,
            on_claim=metrics.idempotency_claimed,
            migrate_now=settings.is_development,
        )
        clients = {}
        for name, url, token in (
            ("invoicing", settings.invoicing_url, settings.invoicing_token),
            ("payments", settings.payments_url, settings.payments_token),
        ):
            client = build_http_client(
                str(url),
                _secret(token),
                transport=transports.get(name),
                timeout_seconds=settings.request_timeout_seconds,
                direct_reads=direct_reads,
            )
            clients[name] = await stack.enter_async_context(client)
        idp_http = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=transports.get("idp"),
                timeout=httpx.Timeout(5, connect=2),
                follow_redirects=False,
                trust_env=False,
            )
        )
        verifier = JwtVerifier(
            JwtConfig(
                issuer=str(settings.jwt_issuer),
                audience=str(settings.jwt_audience),
                jwks_url=str(settings.jwt_jwks_url),
                algorithms=settings.jwt_algorithms,
                leeway_seconds=settings.jwt_leeway_seconds,
                dev_hs256_secret=(
                    _secret(settings.jwt_dev_secret)
                    if settings.is_development and settings.jwt_dev_secret
                    else None
                ),
            ),
            JwksCache(idp_http, str(settings.jwt_jwks_url)),
            verified_tokens=verified_tokens,
        )
        channels = {
            name: Channel(
                name,
                client,
                CircuitBreaker(
                    name,
                    failure_threshold=settings.breaker_failure_threshold,
                    open_seconds=settings.breaker_open_seconds,
                    on_change=partial(_breaker_changed, metrics),
                ),
                policy,
                observer,
                one_pass_json=one_pass_json,
                lazy_retries=lazy_retries,
                flights=SingleFlight() if single_flight else None,
            )
            for name, client in clients.items()
        }
        metrics.watch_breakers({name: _state_reader(c) for name, c in channels.items()})
        rate_limits = await stack.enter_async_context(open_rate_limits(settings, clock))
        metrics.watch_rate_limits(rate_limits.stats.rejected, rate_limits.stats.backend_failures)
        yield Resources(
            settings=settings,
            regions=regions,
            jurisdictions=Jurisdictions(),
            verifier=verifier,
            today=today,
            invoicing=channels["invoicing"],
            payments=channels["payments"],
            metrics=metrics,
            tracing=tracing,
            rate_limits=rate_limits,
            persisted_queries=persisted,
        )


def _breaker_changed(metrics: Metrics, service: str, state: BreakerState) -> None:
    # An opening circuit is what an operator must hear about first.
    level = logging.WARNING if state is BreakerState.OPEN else logging.INFO
    logger.log(
        level, "circuit breaker state changed", extra={"service": service, "state": state.value}
    )
    metrics.breaker_changed(service, state)


def _state_reader(channel: Channel) -> Callable[[], BreakerState]:
    return lambda: channel.breaker.state
