"""The attackers of the load-under-attack test, run as a process of their own
(`python -m tests.attack.attackers PLAN RESULT`), so that their work never delays the
measuring client's event loop; and the small HTTP/1.1 client both use.

Each class of the issue is one request, sent as raw bytes (so that invalid UTF-8, a
foreign Host or a trailing slash go out exactly as written) by a few connections in a
closed loop: as fast as the gateway answers, each waiting for its answer. The slow
classes hold connections open instead: a head a byte a second (slowloris) and a body
that stops halfway (slow POST). Everything stops at the plan's deadline; the result is
the status counts per class (with "reset" for a connection cut without an answer), and
for answers of 200, how many carried no `errors` (a refused class must have none).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path

INTROSPECTION = (
    "__schema { queryType { name } types { name kind description"
    " fields(includeDeprecated: true) { name description args { name type { name kind"
    " ofType { name kind ofType { name kind } } } } type { name kind ofType { name kind"
    " ofType { name kind } } } } inputFields { name } enumValues { name } } }"
)


def post(
    body: bytes, token: str | None, *, path: str = "/graphql", host: str = "127.0.0.1"
) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def query(document: str, **extra: object) -> bytes:
    return json.dumps({"query": document, **extra}).encode()


NONCE = b"#00000000"  # a comment, replaced per request so no cache answers for the parser


CLASSES = (
    "introspection, aliased 30 times",
    "introspection, twice (within the cost limit)",
    "duplicated fields",
    "invalid UTF-8",
    "bad tokens from one address",
    "malformed JSON",
    "deeply nested JSON",
    "several operations, no operationName",
    "trailing slash, foreign Host",
    "nodes with 30000 ids",
)


def attacks(tokens: Mapping[str, str], forged: str) -> dict[str, bytes]:
    """Each class's request. `tokens` holds a valid token of no memberships per class:
    an account each (any account can get one), so no class hides behind another's spent
    budget. `forged` is well formed, signed by another key. A document starts with NONCE,
    which `flood` makes unique to each request."""
    nonce = NONCE.decode() + "\n"
    aliased = " ".join(f"a{i}: {INTROSPECTION}" for i in range(30))
    duplicated = "{ " + "viewer { id } " * 300 + "}"
    deep = b'{"query": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    documents: dict[str, tuple[bytes, dict[str, str]]] = {
        "introspection, aliased 30 times": (query(nonce + "{ " + aliased + " }"), {}),
        "introspection, twice (within the cost limit)": (
            query(f"{nonce}{{ a: {INTROSPECTION} b: {INTROSPECTION} }}"),
            {},
        ),
        "duplicated fields": (query(nonce + duplicated), {}),
        "invalid UTF-8": (b'{"query": "{ viewer { id } }\xff\xfe\xc3"}', {}),
        "bad tokens from one address": (query("{ viewer { id } }"), {}),
        "malformed JSON": (b'{"query": "{ viewer { id } }", ', {}),
        "deeply nested JSON": (deep, {}),
        "several operations, no operationName": (
            query(nonce + "query A { viewer { id } } query B { viewer { id } }"),
            {},
        ),
        "trailing slash, foreign Host": (
            query("{ viewer { id } }"),
            {"path": "/graphql/", "host": "attacker.example"},
        ),
        "nodes with 30000 ids": (
            query(
                nonce + "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                variables={"ids": ["x"] * 30000},
            ),
            {},
        ),
    }
    return {
        name: post(
            body,
            forged if name == "bad tokens from one address" else tokens[name],
            **where,
        )
        for name, (body, where) in documents.items()
    }


@dataclass
class Answer:
    status: int
    body: bytes
    close: bool


class Connection:
    """One keep-alive HTTP/1.1 connection: a request's bytes out, its answer in."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def exchange(self, request: bytes) -> Answer:
        if self._streams is None:
            self._streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self._streams
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        answer = Answer(int(lines[0].split()[1]), body, headers.get("connection") == "close")
        if answer.close:
            await self.close()
        return answer

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    admitted: int = 0  # answers of 200 without errors
    cut_after: list[float] = field(default_factory=list)  # slow clients: seconds to 408

    def as_json(self) -> dict[str, object]:
        return {
            "statuses": dict(self.statuses),
            "admitted": self.admitted,
            "cut_after": self.cut_after,
        }


async def flood(port: int, request: bytes, rate: float, tally: Tally, until: float) -> None:
    """`request` again and again, each with a new nonce, at most `rate` a second (never
    two at once on the connection, never a burst to catch up)."""
    connection = Connection(port)
    next_at = time.monotonic()
    try:
        while (now := time.monotonic()) < until:
            await asyncio.sleep(max(next_at - now, 0))
            next_at = max(next_at, now) + 1 / rate
            sent = request.replace(NONCE, b"#%08d" % tally.sent, 1)
            tally.sent += 1
            try:
                answer = await asyncio.wait_for(connection.exchange(sent), 10)
            except (ConnectionError, asyncio.IncompleteReadError):
                tally.statuses["reset"] += 1
                await connection.close()
                continue
            tally.statuses[str(answer.status)] += 1
            if answer.status == 200 and b'"errors"' not in answer.body:
                tally.admitted += 1
    finally:
        await connection.close()


async def hold_open(port: int, first: bytes, then: bytes, tally: Tally, until: float) -> None:
    """Sends `first` at once, then `then` a byte a second, until the server answers and
    closes; again, until the deadline."""
    while time.monotonic() < until:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        opened = time.monotonic()
        writer.write(first)

        async def trickle(writer: asyncio.StreamWriter = writer) -> None:
            for index in range(len(then)):
                await asyncio.sleep(1)
                writer.write(then[index : index + 1])

        trickling = asyncio.create_task(trickle())
        try:
            # Past the attack's end too: the guard's cut may come a little after it
            # when the gateway is busy (the connection opened after the attack began).
            left = until + ANSWER_GRACE_SECONDS - time.monotonic()
            answer = await asyncio.wait_for(reader.read(), max(left, 0.1))
            tally.statuses[answer[9:12].decode() or "closed"] += 1
            tally.cut_after.append(round(time.monotonic() - opened, 2))
        except (TimeoutError, ConnectionError):
            pass
        finally:
            trickling.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await trickling
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


ANSWER_GRACE_SECONDS = 5.0
SLOW_HEAD = "slow head (a byte a second)"
SLOW_BODY = "slow body (stops halfway)"


@dataclass(frozen=True)
class Plan:
    port: int
    seconds: float
    per_class: int  # connections per class
    rate: float  # requests a second per flooding connection, at most
    tokens: dict[str, str]  # a valid token per class (CLASSES), and one for the slow ones
    forged: str


async def run(plan: Plan, result: Path, ready: Path) -> None:
    until = time.monotonic() + plan.seconds
    requests = attacks(plan.tokens, plan.forged)
    tallies = {name: Tally() for name in [*requests, SLOW_HEAD, SLOW_BODY]}
    body = query("{ viewer { id } }")
    slow_body_head = post(body, plan.tokens[SLOW_BODY])[: -len(body)]
    work: list[Coroutine[None, None, None]] = []
    for _ in range(plan.per_class):
        work += [
            flood(plan.port, request, plan.rate, tallies[name], until)
            for name, request in requests.items()
        ]
        work.append(hold_open(plan.port, b"", post(body, None), tallies[SLOW_HEAD], until))
        work.append(
            hold_open(plan.port, slow_body_head + body[:10], b"", tallies[SLOW_BODY], until)
        )
    tasks = [asyncio.ensure_future(coroutine) for coroutine in work]
    ready.write_text("started")  # noqa: ASYNC240 - a few bytes, once
    await asyncio.gather(*tasks)
    outcome = {name: tally.as_json() for name, tally in tallies.items()}
    result.write_text(json.dumps(outcome))  # noqa: ASYNC240 - once, at the end


if __name__ == "__main__":
    plan_path, result_path, ready_path = (Path(argument) for argument in sys.argv[1:4])
    plan = Plan(**json.loads(plan_path.read_text()))
    asyncio.run(run(plan, result_path, ready_path))
