"""A real uvicorn server on a loopback port, in this event loop, serving a small recording
app through a given HTTP protocol class; and a raw-socket client that sends exactly the
bytes a test writes, at the pace it chooses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from starlette.types import Receive, Scope, Send

from app.serve.guard import GuardedHttpToolsProtocol


class QuickGuard(GuardedHttpToolsProtocol):
    """The shipped protocol with limits short enough for a test to wait out."""

    head_timeout = 1.0
    body_idle_timeout = 1.0
    body_timeout = 2.0


@dataclass
class RecordingApp:
    """Reads the whole body, answers 200 with its length; records each request that
    reached it and each that it saw disconnect. `/slow` takes `slow_seconds` first."""

    slow_seconds: float = 1.5
    paths: list[str] = field(default_factory=list)
    disconnected: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.paths.append(scope["path"])
        if scope["path"] == "/slow":
            await asyncio.sleep(self.slow_seconds)
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected.append(scope["path"])
                return
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = json.dumps({"path": scope["path"], "bodyBytes": size}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@dataclass
class Served:
    port: int
    app: RecordingApp


@contextlib.asynccontextmanager
async def serving(protocol: type[asyncio.Protocol]) -> AsyncIterator[Served]:
    app = RecordingApp()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        http=protocol,
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                assert not task.done(), "the server did not start"
                await asyncio.sleep(0.01)
        port = int(server.servers[0].sockets[0].getsockname()[1])
        yield Served(port, app)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@dataclass
class Answer:
    """What a connection received until the server closed it (or the wait ended)."""

    data: bytes
    closed: bool
    seconds: float

    @property
    def status(self) -> int | None:
        if not self.data.startswith(b"HTTP/1.1 "):
            return None
        return int(self.data[9:12])

    def json_body(self) -> object:
        return json.loads(self.data.split(b"\r\n\r\n", 1)[1])


class RawClient:
    """One TCP connection; `send` writes bytes as given, `answer` reads what comes back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.opened = time.monotonic()

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> bool:
        """False once the server has closed the connection."""
        if self.writer.is_closing() or self.reader.at_eof():
            return False
        self.writer.write(data)
        try:
            await self.writer.drain()
        except ConnectionError:
            return False
        return True

    async def trickle(self, data: bytes, every: float) -> None:
        """One byte every `every` seconds until all is sent or the server closes."""
        for index in range(len(data)):
            if not await self.send(data[index : index + 1]):
                return
            await asyncio.sleep(every)

    async def answer(self, within: float) -> Answer:
        """Everything received until the server closes, or `within` seconds pass."""
        received = b""
        closed = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while True:
                    try:
                        chunk = await self.reader.read(65536)
                    except ConnectionError:
                        chunk = b""
                    if not chunk:
                        closed = True
                        break
                    received += chunk
        return Answer(received, closed, time.monotonic() - self.opened)

    async def response(self, within: float = 5.0) -> Answer:
        """One whole response with a Content-Length, the connection left open."""
        async with asyncio.timeout(within):
            head = await self.reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            body = await self.reader.readexactly(length)
        return Answer(head + body, False, time.monotonic() - self.opened)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def request(path: str = "/", body: bytes = b"", **headers: str) -> tuple[bytes, bytes]:
    """A POST's head and body, as bytes."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), body
