"""Open-loop load at a constant rate: `python -m bench.loadgen SPEC.json`, result JSON on
stdout.

wrk keeps N connections busy (closed loop): a slow answer delays the next request, so it
cannot say what latency is at a given request rate. This sends request i at t0 + i/rate
whatever happened to the earlier ones (a new connection when every open one is busy), and
measures each latency from that intended send time, so queueing delay is counted and not
hidden (no coordinated omission). Python is fast enough for the rates involved here
(it is asked for 70% of one gateway worker's saturation); its own lateness is reported
and a run where it fell behind says so. Every answer is checked as check.lua does.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from bench.stats import summarise_ms

_MAX_BAD_SAMPLE = 400
# uvicorn closes a keep-alive connection idle for 5 s; one idle longer than this is not
# reused, so that a request never meets a connection the server is closing.
_IDLE_REUSE_LIMIT_S = 2.0


@dataclass
class Spec:
    port: int
    path: str
    token: str
    rate: float
    duration_s: float
    mode: str  # "read" or "pay"
    body: str = ""
    expected: str = ""
    template: str = ""
    invoices: list[str] = field(default_factory=list)
    key_prefix: str = "ol"
    max_connections: int = 512
    timeout_s: float = 10.0


def pay_ok(body: bytes) -> bool:
    return (
        b'"errors"' not in body
        and b'"userErrors":[]' in body
        and b'"replayed":false' in body
        and b'"status":"SUCCEEDED"' in body
    )


class ConnectionLimitError(Exception):
    """Every connection is busy and no more may be opened: the server is not keeping up
    with the rate; the request is dropped (counted), not an answer to check."""


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.last_used = time.perf_counter()

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length) if length else b""
        return status, body


class Generator:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.idle: deque[Connection] = deque()
        self.opened = 0
        self.latencies: list[float] = []
        self.service_times: list[float] = []
        self.lateness: list[float] = []
        self.bad = 0
        self.errors = 0
        self.dropped = 0
        self.connections_made = 0
        self.bad_sample = ""
        self.expected = spec.expected.encode()
        self.head = (
            f"POST {spec.path} HTTP/1.1\r\nHost: 127.0.0.1:{spec.port}\r\n"
            f"Authorization: Bearer {spec.token}\r\nContent-Type: application/json\r\n"
        ).encode()

    def request(self, n: int) -> bytes:
        spec = self.spec
        if spec.mode == "read":
            body = spec.body.encode()
        else:
            invoice = spec.invoices[n % len(spec.invoices)]
            body = (spec.template % (f"{spec.key_prefix}-{n}", invoice)).encode()
        return self.head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body

    async def connection(self) -> Connection:
        while self.idle:
            connection = self.idle.pop()
            if time.perf_counter() - connection.last_used < _IDLE_REUSE_LIMIT_S:
                return connection
            connection.writer.close()
            self.opened -= 1
        if self.opened >= self.spec.max_connections:
            raise ConnectionLimitError
        self.opened += 1
        self.connections_made += 1
        reader, writer = await asyncio.open_connection("127.0.0.1", self.spec.port)
        return Connection(reader, writer)

    def check(self, status: int, body: bytes) -> None:
        ok = status == 200 and (body == self.expected if self.spec.mode == "read" else pay_ok(body))
        if not ok:
            self.bad += 1
            if not self.bad_sample:
                self.bad_sample = f"{status} {body[:_MAX_BAD_SAMPLE].decode(errors='replace')}"

    async def one(self, n: int, intended: float) -> None:
        try:
            connection = await self.connection()
        except ConnectionLimitError:
            self.dropped += 1
            return
        except OSError as exc:
            self.errors += 1
            self.bad_sample = self.bad_sample or f"transport: {type(exc).__name__}: {exc}"
            return
        try:
            sent = time.perf_counter()
            async with asyncio.timeout(self.spec.timeout_s):
                status, body = await connection.exchange(self.request(n))
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            self.errors += 1
            if not self.bad_sample:
                self.bad_sample = f"transport: {type(exc).__name__}: {exc}"
            return
        done = time.perf_counter()
        connection.last_used = done
        self.idle.append(connection)
        self.latencies.append(done - intended)
        self.service_times.append(done - sent)
        self.check(status, body)

    async def run(self) -> dict[str, Any]:
        spec = self.spec
        total = int(spec.rate * spec.duration_s)
        interval = 1 / spec.rate
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        for n in range(total):
            intended = start + n * interval
            delay = intended - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self.lateness.append(max(0.0, time.perf_counter() - intended))
            task = asyncio.create_task(self.one(n, intended))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        sent_for = time.perf_counter() - start
        if tasks:
            await asyncio.wait(tasks, timeout=spec.timeout_s + 1)
        for connection in self.idle:
            connection.writer.close()
        lateness = summarise_ms(self.lateness)
        return {
            "rate_asked": spec.rate,
            "sent": total,
            "completed": len(self.latencies),
            "rate_sent": total / sent_for if sent_for > 0 else 0.0,
            "bad": self.bad,
            "errors": self.errors,
            "dropped": self.dropped,
            "bad_sample": self.bad_sample,
            "connections": self.connections_made,
            "latency": summarise_ms(self.latencies),
            "service_time": summarise_ms(self.service_times),
            "generator_lateness": lateness,
            # Latency counts from the intended time, so lateness is never hidden; it only
            # matters when it is a real share of what was measured.
            "generator_kept_up": lateness["p99_ms"]
            <= max(5.0, 0.1 * summarise_ms(self.latencies)["p50_ms"]),
        }


def main() -> None:
    spec = Spec(**json.loads(open(sys.argv[1]).read()))  # noqa: PTH123, SIM115 - tiny file
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        runner = asyncio.run
    result = runner(Generator(spec).run())
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
