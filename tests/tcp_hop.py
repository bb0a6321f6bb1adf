"""One TCP hop for the tests that put a network fault between the gateway and a server
it talks to (PostgreSQL, RabbitMQ), instead of a hand-written proxy per test module.

- `up` (the start, and `restore()`): forwards both ways.
- `cut()`: resets every open connection on both sides, and every new one at once, until
  `restore()`: a host that went away, a broker restarting.
- `refuse`: closes the open connections and every new one at once: a server that is
  down.
- `hang`: forwards nothing either way, and new connections wait unanswered: a partition
  (packets dropped, nothing refused).
- `vanish()`: the open connections look alive until the client next sends, which resets
  them; new ones work: a far side gone without the client hearing (a proxy restarted, a
  half-open socket).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.engine import make_url

MODES = ("up", "cut", "refuse", "hang")


class TcpHop:
    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self.mode = "up"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self._upstreams: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._generation = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def set(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        if mode == "hang":
            self._flowing.clear()
        else:
            self._flowing.set()
        if mode == "cut":
            for writer in self._clients | self._upstreams:
                writer.transport.abort()
        elif mode == "refuse":
            for writer in list(self._clients):
                writer.close()

    def cut(self) -> None:
        self.set("cut")

    def restore(self) -> None:
        self.set("up")

    def vanish(self) -> None:
        self._generation += 1

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            await self._flowing.wait()
            if self.mode == "cut":
                writer.transport.abort()
                return
            if self.mode == "refuse":
                return
            up_reader, upstream = await asyncio.open_connection(*self._target)
            self._upstreams.add(upstream)
            generation = self._generation
            await asyncio.gather(
                self._pipe(reader, upstream, writer, generation),
                self._pipe(up_reader, writer, None, generation),
            )
        except OSError:
            pass  # the target refused, or a side was reset: the client sees its end
        finally:
            self._clients.discard(writer)
            writer.close()
            if upstream is not None:
                self._upstreams.discard(upstream)
                upstream.close()

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        client: asyncio.StreamWriter | None,
        generation: int,
    ) -> None:
        # `client` is set on the client-to-server direction: the one that meets a vanished
        # far side.
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                await self._flowing.wait()
                if self.mode in ("cut", "refuse"):
                    break
                if client is not None and generation != self._generation:
                    client.transport.abort()
                    break
                sink.write(data)
                await sink.drain()
        sink.close()


@contextlib.asynccontextmanager
async def database_behind_hop(url: str) -> AsyncIterator[tuple[TcpHop, str]]:
    """A hop in front of the database at `url` (a SQLAlchemy URL), and the URL through it."""
    parsed = make_url(url)
    hop = TcpHop(parsed.host or "127.0.0.1", parsed.port or 5432)
    await hop.start()
    try:
        yield hop, parsed.set(host="127.0.0.1", port=hop.port).render_as_string(hide_password=False)
    finally:
        await hop.close()
