"""The composition root: `create_app(settings)` wires everything; `app` is the ASGI
application uvicorn serves (`app.main:app`), built from the environment on start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.background import running_background
from app.gc_tuning import settle_after_startup
from app.graphql import GraphQLEndpoint
from app.health import Readiness, healthz
from app.request_id import RequestIdMiddleware
from app.resources import ResourceHolder, Transports, open_resources, utc_today
from app.settings import Settings, load_settings


def create_app(
    settings: Settings,
    *,
    transports: Transports | None = None,
    today: Callable[[], date] = utc_today,
    tune_gc: bool = False,
) -> Starlette:
    holder = ResourceHolder()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with (
            open_resources(settings, transports, today) as resources,
            running_background(resources),
        ):
            holder.set(resources)
            if tune_gc:
                settle_after_startup()
            try:
                yield
            finally:
                holder.set(None)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", Readiness(holder).endpoint, methods=["GET"]),
            Route(
                "/graphql",
                GraphQLEndpoint(holder, graphiql=settings.graphiql),
                methods=["GET", "POST"],
            ),
        ],
        middleware=[Middleware(RequestIdMiddleware)],
        lifespan=lifespan,
    )


class _AppFromEnvironment:
    """Reads settings when the server starts, not at import: importing app.main has no
    side effects, and a settings error surfaces as a failed start-up naming the setting."""

    def __init__(self) -> None:
        self._app: Starlette | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = create_app(load_settings(), tune_gc=True)
        await self._app(scope, receive, send)


app = _AppFromEnvironment()
