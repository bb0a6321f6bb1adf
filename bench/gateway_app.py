"""The gateway as the benchmark can vary it, to measure a lever before it lands:

- BENCH_GATEWAY_TRANSPORT=aiohttp: httpx-aiohttp's transport under both downstream
  clients, through create_app's `transports=` (app/clients/ unchanged);
- BENCH_GATEWAY_GC_FREEZE=1: gc.collect() then gc.freeze() once start-up is done, so the
  long-lived start-up objects leave the collector's generations.

Served by `uvicorn --factory bench.gateway_app:app_factory`; without either variable it is
exactly `app.main:app`.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from app.main import create_app
from app.resources import Transports
from app.settings import load_settings

VARIANTS = {"aiohttp": "BENCH_GATEWAY_TRANSPORT", "gcfreeze": "BENCH_GATEWAY_GC_FREEZE"}


def variant_environment(names: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for name in names:
        if name == "aiohttp":
            env["BENCH_GATEWAY_TRANSPORT"] = "aiohttp"
        elif name == "gcfreeze":
            env["BENCH_GATEWAY_GC_FREEZE"] = "1"
        else:
            raise ValueError(f"unknown gateway variant {name!r}; known: {sorted(VARIANTS)}")
    return env


def _transports() -> Transports | None:
    if os.environ.get("BENCH_GATEWAY_TRANSPORT") != "aiohttp":
        return None
    from httpx_aiohttp import AiohttpTransport

    return {"invoicing": AiohttpTransport(), "payments": AiohttpTransport()}


def app_factory() -> Starlette:
    app = create_app(load_settings(), transports=_transports())
    if os.environ.get("BENCH_GATEWAY_GC_FREEZE") == "1":
        started = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(running: Starlette) -> AsyncIterator[None]:
            async with started(running):
                gc.collect()
                gc.freeze()
                yield

        app.router.lifespan_context = lifespan
    return app
