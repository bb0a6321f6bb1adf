"""A gateway served by uvicorn on loopback, in the test's own event loop: WebSockets and
SSE streams need a real server (httpx's ASGI transport neither upgrades nor streams),
and one loop lets a test publish into the app's hub directly.

Events are published into the hub as the feed would (`LiveGateway.publish`); the feeds
themselves are tested on their own (test_table_feed.py, test_amqp_feed.py).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from app.auth.principal import Role
from app.db import migrate
from app.db.engine import create_engine
from app.events.envelope import Event, EventType
from app.main import create_app
from app.serve.guard import GuardedHttpToolsProtocol
from app.subscriptions.hub import Hub
from sandbox.devkeys import mint_token
from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.conftest import (  # noqa: F401 - fixtures shared with the e2e suite
    AUDIENCE,
    ISSUER,
    Downstreams,
    downstreams,
    gateway_settings,
    signing_key,
)

WS_PROTOCOL = "graphql-transport-ws"


def event(
    kind: str,
    subject: str,
    *,
    business: str = GB_BUSINESS_ID,
    sequence: int = 1,
) -> Event:
    return Event(
        id=f"evt_{uuid.uuid4().hex}",
        type=EventType(kind),
        time=datetime(2026, 12, 3, 13, 45, tzinfo=UTC),
        business_id=business,
        subject=subject,
        sequence=sequence,
        data={},
    )


@dataclass
class LiveGateway:
    app: Starlette
    port: int

    @property
    def hub(self) -> Hub:
        hub: Hub = self.app.state.live.live.hub
        return hub

    def publish(self, *events: Event) -> None:
        for one in events:
            self.hub.publish(one)

    async def subscribed(self, subject: str, count: int = 1) -> None:
        """Waits until `subject` holds `count` open subscriptions in the hub."""
        for _ in range(500):
            if self.hub.open_count(subject) == count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{subject} holds {self.hub.open_count(subject)} subscriptions")

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def metric(self, name: str, **labels: str) -> float | None:
        registry = self.app.state.live.live.metrics.registry
        value: float | None = registry.get_sample_value(name, labels)
        return value

    def ws(self, **kwargs: Any) -> Any:
        return connect(
            f"ws://127.0.0.1:{self.port}/graphql", subprotocols=[Subprotocol(WS_PROTOCOL)], **kwargs
        )


LiveFactory = Callable[..., Awaitable[LiveGateway]]


@pytest.fixture
async def live_factory(downstreams: Downstreams, tmp_path: Path) -> AsyncIterator[LiveFactory]:  # noqa: F811
    async with AsyncExitStack() as stack:

        async def start(**changes: object) -> LiveGateway:
            database_url = f"sqlite+aiosqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"
            engine = create_engine(database_url)
            await migrate.upgrade(engine)
            await engine.dispose()
            app = create_app(
                gateway_settings(database_url, **changes), transports=downstreams.transports()
            )
            server = uvicorn.Server(
                uvicorn.Config(
                    app,
                    host="127.0.0.1",
                    port=0,
                    # As the Dockerfile serves: its HTTP protocol, uvicorn's "auto"
                    # WebSocket implementation (websockets' sans-I/O one).
                    http=GuardedHttpToolsProtocol,
                    ws="websockets-sansio",
                    lifespan="on",
                    log_level="warning",
                )
            )
            task = asyncio.create_task(server.serve())

            async def stop() -> None:
                server.should_exit = True
                await task

            stack.push_async_callback(stop)
            for _ in range(1000):
                if server.started:
                    break
                await asyncio.sleep(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            return LiveGateway(app, port)

        yield start


@pytest.fixture
async def live(live_factory: LiveFactory) -> LiveGateway:
    return await live_factory()


TokenMaker = Callable[..., str]


@pytest.fixture
def token(signing_key: rsa.RSAPrivateKey) -> TokenMaker:  # noqa: F811
    def make(
        memberships: Sequence[tuple[str, Role]] = ((GB_BUSINESS_ID, Role.OWNER),),
        *,
        subject: str = "user_live",
        scopes: Sequence[str] | None = None,
        ttl_seconds: int = 3600,
    ) -> str:
        return mint_token(
            signing_key,
            issuer=ISSUER,
            audience=AUDIENCE,
            subject=subject,
            memberships=memberships,
            scopes=scopes,
            ttl_seconds=ttl_seconds,
        )

    return make


async def init(socket: ClientConnection, token: str | None) -> dict[str, Any]:
    """connection_init with the token; the server's answer."""
    payload = {"Authorization": f"Bearer {token}"} if token else {}
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    return await receive(socket)


async def receive(socket: ClientConnection, within: float = 5) -> dict[str, Any]:
    async with asyncio.timeout(within):
        message: dict[str, Any] = json.loads(await socket.recv())
    return message


async def subscribe(
    socket: ClientConnection,
    query: str,
    variables: dict[str, Any] | None = None,
    operation_id: str = "1",
) -> None:
    await socket.send(
        json.dumps(
            {
                "id": operation_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
    )
