"""A sandbox service for benchmarks: the real sandbox app behind a response cache.

On a 2-core machine the sandboxes share a core with the load generator; their own CPU
per call (routing, SQLite, JSON encoding of 50 invoices) would cap the baseline long
before the baseline's core is busy, and then gateway and baseline would both measure the
sandbox. Repeated GETs are therefore answered from bytes the sandbox produced earlier
for the same method, path, query and token. Everything a gateway can observe stays the
same: the same bytes, the same injected latency (read from the live fault config), the
token check, and the call log entry for every call. Any other request goes to the real
app and empties the cache first, so a write is never followed by a stale read.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.__main__ import Options, build_app
from sandbox.common.auth import bearer_ok
from sandbox.common.calls import ADMIN_PREFIX
from sandbox.common.faults import FaultConfig
from sandbox.common.runtime import Service

CacheKey = tuple[bytes, bytes, bytes]
_CACHE_LIMIT = 10_000


def _only_latency(config: FaultConfig) -> bool:
    return config == FaultConfig(latency_ms=config.latency_ms)


class ResponseCache:
    def __init__(self, app: Starlette) -> None:
        self.app: ASGIApp = app
        self.service: Service = app.state.sandbox
        self.cache: dict[CacheKey, tuple[list[tuple[bytes, bytes]], bytes]] = {}
        self.hits = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        cacheable = (
            scope["method"] == "GET"
            and not path.startswith(ADMIN_PREFIX)
            and _only_latency(self.service.faults.config)
        )
        if not cacheable:
            self.cache.clear()
            await self.app(scope, receive, send)
            return
        key = (path.encode(), scope["query_string"], _authorization(scope))
        hit = self.cache.get(key)
        if hit is None or not bearer_ok(scope, self.service.token):
            await self._fill(key, scope, receive, send)
            return
        self.hits += 1
        self.service.calls.record(scope)
        latency_ms = self.service.faults.config.latency_ms
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        headers, body = hit
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _fill(self, key: CacheKey, scope: Scope, receive: Receive, send: Send) -> None:
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def recording_send(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, recording_send)
        if status == 200 and len(self.cache) < _CACHE_LIMIT:
            self.cache[key] = (headers, b"".join(chunks))


def _authorization(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value)
    return b""


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sandbox_server")
    parser.add_argument("service", choices=["invoicing", "payments"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--latency-ms", type=int, default=5)
    parser.add_argument("--no-cache", action="store_true", help="serve every call for real")
    args = parser.parse_args(argv)
    options = Options(
        service=args.service,
        host="127.0.0.1",
        port=args.port,
        token=args.token,
        db=":memory:",
        latency_ms=args.latency_ms,
    )
    app = build_app(options)
    served: ASGIApp = app if args.no_cache else ResponseCache(app)
    uvicorn.run(
        served,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
