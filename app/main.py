"""The composition root: `create_app(settings)` wires everything; `app` is the ASGI
application uvicorn serves (`app.main:app`), built from the environment on start-up."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date

from opentelemetry.sdk.trace.export import SpanExporter
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from app.core.settings import Settings, SettingsError, load_settings
from app.gc_tuning import settle_after_startup
from app.http.endpoint import GraphQLEndpoint
from app.http.graphiql.site import graphiql_site
from app.http.health import Readiness, healthz
from app.http.metrics import MetricsEndpoint
from app.http.middleware import GRAPHQL_PATH, transport_middleware
from app.http.refusal import code_of_status, refusal
from app.http.request_id import RequestIdMiddleware, request_id_of
from app.http.sdl import sdl_route
from app.http.security_headers import ERROR_HEADERS
from app.levers import Levers
from app.ratelimit.limiter import Clock
from app.schema.limits.config import Limits
from app.telemetry.logs import configure_logging
from app.telemetry.sentry import start_error_reporting
from app.wiring.background import running_background
from app.wiring.live import LiveHolder, running_live
from app.wiring.resources import ResourceHolder, Transports, open_resources, utc_today

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    transports: Transports | None = None,
    today: Callable[[], date] = utc_today,
    span_exporter: SpanExporter | None = None,
    clock: Clock | None = None,
    levers: Levers = Levers(),  # noqa: B008 - frozen: one shared default is safe
) -> Starlette:
    holder = ResourceHolder()
    # The event hub of live updates; app.state.live reaches it (tests publish through it).
    live = LiveHolder()
    graphiql = graphiql_site(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with (
            open_resources(
                settings,
                transports,
                today,
                span_exporter,
                clock,
                one_pass_json=levers.one_pass_json,
                direct_reads=levers.direct_reads,
                lazy_retries=levers.lazy_retries,
                verified_tokens=levers.verified_tokens,
                single_flight=levers.single_flight,
            ) as resources,
            running_background(resources),
            running_live(resources) as events,
        ):
            holder.set(resources)
            live.set(events)
            if levers.gc_young_threshold is not None:
                settle_after_startup(levers.gc_young_threshold)
            try:
                yield
            finally:
                holder.set(None)
                live.set(None)

    endpoint = GraphQLEndpoint(
        holder,
        graphiql=graphiql,
        limits=Limits.from_settings(settings),
        # "Did you mean ...?" names fields and values: development only.
        hide_suggestions=not settings.is_development,
        lean_executor=levers.lean_executor,
        compiled_plans=levers.compiled_plans,
        compiled_guards=levers.compiled_guards,
        leaf_steps=levers.leaf_steps,
        whole_page_children=levers.whole_page_children,
        live=live,
        allowed_origins=settings.cors_origins,
    )
    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", Readiness(holder).endpoint, methods=["GET"]),
            Route("/metrics", MetricsEndpoint(holder).endpoint, methods=["GET"]),
            sdl_route(),
            Route(GRAPHQL_PATH, endpoint, methods=["GET", "POST"]),
            # Live updates (graphql-transport-ws); SSE is a POST to the route above.
            WebSocketRoute(GRAPHQL_PATH, endpoint.websocket),
            *(graphiql.routes() if graphiql else []),
        ],
        middleware=[Middleware(RequestIdMiddleware), *transport_middleware(settings)],
        exception_handlers={HTTPException: _routing_refusal, Exception: _unexpected},
        lifespan=lifespan,
    )
    # No redirect from /graphql/ to /graphql: Starlette builds it from the Host header,
    # which the caller chooses, so an answer would point wherever the caller liked.
    app.router.redirect_slashes = False
    app.state.live = live
    return app


async def _routing_refusal(_request: Request, exc: Exception) -> Response:
    """No route, or not this method: JSON with a code like every other refusal (Starlette
    would answer in plain text)."""
    if isinstance(exc, HTTPException) and exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow", "")
        return refusal(405, "METHOD_NOT_ALLOWED", "Method not allowed.", Allow=allow)
    if isinstance(exc, HTTPException) and exc.status_code != 404:
        return refusal(exc.status_code, code_of_status(exc.status_code), exc.detail)
    return refusal(404, "NOT_FOUND", "Not found.")


async def _unexpected(request: Request, exc: Exception) -> Response:
    """The outermost boundary: an error nothing else handled is a JSON 500 naming the
    request, never a stack trace. (Starlette then re-raises it for the server's log.)"""
    request_id = request_id_of(request.scope)
    logger.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
    return JSONResponse(
        {
            "errors": [
                {
                    "message": f"Internal error. Reference: {request_id}",
                    "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                }
            ]
        },
        status_code=500,
        # Starlette answers from outside every middleware: the headers they would add.
        headers={"X-Request-Id": request_id, **ERROR_HEADERS},
    )


class _AppFromEnvironment:
    """Reads settings when the server starts, not at import: importing app.main has no
    side effects. A settings error fails the server's start-up (the lifespan's startup
    fails, naming the setting), so the process exits instead of serving 500s."""

    def __init__(self) -> None:
        self._app: Starlette | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            try:
                self._app = self._build()
            except SettingsError as exc:
                if scope["type"] != "lifespan":
                    raise
                # uvicorn exits (status 3) on a failed startup, also with --lifespan auto.
                await receive()
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
        await self._app(scope, receive, send)

    @staticmethod
    def _build() -> Starlette:
        settings = load_settings()
        configure_logging(settings.log_level, json_lines=settings.log_format == "json")
        start_error_reporting(settings)
        return create_app(settings, levers=Levers.served())


app = _AppFromEnvironment()
