"""`python -m bench.compression [--repeat N] [--json PATH]`: what gzip costs and saves on
the gateway's real answers (app/http/compression.py), per answer size and level.

Self-contained and quick (~20 s on one core): the real gateway runs in-process against the
in-process sandboxes (as the tests do, production settings, SQLite), answers the
benchmark's read scenarios (bench/scenarios.py) and smaller dashboards (first: 1, 2, 5,
10, 25), a `viewer` and a 401; each answer's bytes are then compressed `--repeat` times
per level, the best of five medians kept (a shared machine only ever adds time). Columns:

- bytes: the identity answer; gzip: its size at each level; saved: bytes less on the wire;
- µs: CPU to compress it once, as Starlette's GZipMiddleware does (zlib, gzip wrapper,
  one compress and a final flush); mw µs: the whole GzipAnswers middleware for one
  answer (gzip accepted) less the same answer through it with identity;
- ms @400k: transfer time saved at 400 kbit/s (Chrome's "Slow 3G" download rate).

Brotli and zstd rows are added when `brotli` or `zstandard` can be imported (neither is
a dependency: see app/http/compression.py for why, and bench/README.md for the numbers
measured with them installed in a throwaway environment).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import json
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from app.auth.principal import Role
from app.core.settings import load_settings
from app.db import migrate
from app.db.engine import create_engine
from app.http.compression import LEVEL, GzipAnswers
from app.levers import Levers
from app.main import create_app
from bench.scenarios import DASHBOARD, INVOICE_DETAIL, NODES
from sandbox.devkeys import load_or_create_private_key, mint_token
from sandbox.idp import create_idp_app
from sandbox.invoicing import create_invoicing_app
from sandbox.payments import create_payments_app
from sandbox.seed import GB_BUSINESS_ID

ISSUER = "https://id.bench.example/"
# The in-process sandboxes' service tokens: nothing outside this process sees them.
INVOICING_TOKEN = "bench-invoicing"  # noqa: S105
PAYMENTS_TOKEN = "bench-payments"  # noqa: S105
AUDIENCE = "fintech-gateway"
LEVELS = (1, 4, LEVEL, 9)
SLOW_3G_BITS_PER_SECOND = 400_000
BUSINESS = (
    f'{{ business(id: "{GB_BUSINESS_ID}") {{ id name vatNumber viewerRole '
    "balance { available { amount currency formatted } pending { amount currency } } } }"
)
SHORT_INVOICE = (
    f'{{ business(id: "{GB_BUSINESS_ID}") {{ invoices(first: 1) {{ edges {{ node {{ '
    "id number status dueDate total { amount currency formatted } customer { id name } "
    "} } } } }"
)


async def real_answers(workdir: Path) -> dict[str, bytes]:
    """The gateway's identity answers, by name, from a gateway started in-process."""
    key = load_or_create_private_key(workdir / "key.pem")
    database_url = f"sqlite+aiosqlite:///{workdir / 'gateway.db'}"
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    await engine.dispose()
    settings = load_settings(
        app_env="production",
        database_url=database_url,
        invoicing_url="https://invoicing.test",
        invoicing_token=INVOICING_TOKEN,
        payments_url="https://payments.test",
        payments_token=PAYMENTS_TOKEN,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_jwks_url="https://idp.test/.well-known/jwks.json",
        jwt_algorithms="RS256",
        cors_origins="",
    )
    transports: dict[str, httpx.AsyncBaseTransport] = {
        "invoicing": httpx.ASGITransport(app=create_invoicing_app(token=INVOICING_TOKEN)),
        "payments": httpx.ASGITransport(app=create_payments_app(token=PAYMENTS_TOKEN)),
        "idp": httpx.ASGITransport(app=create_idp_app(key)),
    }
    app = create_app(settings, transports=transports, levers=Levers())
    token = mint_token(
        key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="user_bench",
        memberships=[(GB_BUSINESS_ID, Role.OWNER)],
    )
    requests: dict[str, tuple[dict[str, Any], str | None]] = {
        "viewer": ({"query": "{ viewer { id } }"}, token),
        "business and balance": ({"query": BUSINESS}, token),
        "one invoice, short": ({"query": SHORT_INVOICE}, token),
        "401 refusal": ({"query": "{ viewer { id } }"}, None),
        **{
            f"dashboard first={first}": (
                DASHBOARD.gateway_body({"id": GB_BUSINESS_ID, "first": first}),
                token,
            )
            for first in (1, 2, 5, 10, 25)
        },
        "a) dashboard first=50": (DASHBOARD.gateway_body(), token),
        "b) invoice detail": (INVOICE_DETAIL.gateway_body(), token),
        "c) nodes, 50 ids": (NODES.gateway_body(), token),
    }
    answers: dict[str, bytes] = {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as client,
    ):
        for name, (body, bearer) in requests.items():
            headers = {"Accept-Encoding": "identity"}
            if bearer:
                headers["Authorization"] = f"Bearer {bearer}"
            response = await client.post("/graphql", json=body, headers=headers)
            answers[name] = response.content
    return answers


def best_median_us(work: Callable[[], object], repeat: int) -> float:
    """The lowest of five medians of `repeat` timed calls, in microseconds."""
    medians = []
    for _ in range(5):
        times = []
        for _ in range(repeat):
            start = time.perf_counter_ns()
            work()
            times.append(time.perf_counter_ns() - start)
        medians.append(statistics.median(times))
    return min(medians) / 1000


def gzip_like_starlette(level: int) -> Callable[[bytes], bytes]:
    def compress(body: bytes) -> bytes:
        compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return compressor.compress(body) + compressor.flush()

    return compress


def codecs() -> dict[str, Callable[[bytes], bytes]]:
    """gzip at each level, and brotli and zstd at their usual web levels if importable."""
    found: dict[str, Callable[[bytes], bytes]] = {
        f"gzip-{level}": gzip_like_starlette(level) for level in LEVELS
    }
    try:
        brotli: Any = importlib.import_module("brotli")
        found["br-4"] = lambda body: bytes(brotli.compress(body, quality=4))
    except ImportError:
        pass
    try:
        zstandard: Any = importlib.import_module("zstandard")
        found["zstd-3"] = zstandard.ZstdCompressor(level=3).compress
    except ImportError:
        pass
    return found


def middleware_us(body: bytes, repeat: int) -> float:
    """GzipAnswers' whole cost for one answer: with gzip accepted, less with identity."""

    async def answer(scope: Any, receive: Any, send: Any) -> None:
        # A new list each time: the middleware edits the headers in place.
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    middleware = GzipAnswers(answer)

    async def sink(message: Any) -> None:
        return None

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    def through(offered: bytes) -> Callable[[], object]:
        scope = {"type": "http", "method": "POST", "path": "/graphql"}
        headers = [(b"accept-encoding", offered)]

        def once() -> None:
            coroutine = middleware({**scope, "headers": headers}, receive, sink)
            try:
                coroutine.send(None)
            except StopIteration:
                return
            raise RuntimeError("the middleware waited for something")  # pragma: no cover

        return once

    return best_median_us(through(b"gzip"), repeat) - best_median_us(through(b"identity"), repeat)


def measure(answers: dict[str, bytes], repeat: int) -> list[dict[str, Any]]:
    rows = []
    for name, body in sorted(answers.items(), key=lambda item: len(item[1])):
        row: dict[str, Any] = {"answer": name, "bytes": len(body), "codecs": {}}
        for codec, compress in codecs().items():
            packed = compress(body)
            saved = len(body) - len(packed)
            row["codecs"][codec] = {
                "bytes": len(packed),
                "saved": saved,
                "us": round(best_median_us(functools.partial(compress, body), repeat), 1),
                "ms_saved_slow_3g": round(saved * 8 / SLOW_3G_BITS_PER_SECOND * 1000, 1),
            }
        row["middleware_us"] = round(middleware_us(body, repeat), 1)
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    names = list(rows[0]["codecs"])
    head = ["answer", "bytes", *(f"{n} bytes / µs" for n in names), "saved ms @400k", "mw µs"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for row in rows:
        cells = [row["answer"], str(row["bytes"])]
        cells += [f"{row['codecs'][n]['bytes']} / {row['codecs'][n]['us']}" for n in names]
        cells += [str(row["codecs"][f"gzip-{LEVEL}"]["ms_saved_slow_3g"])]
        cells += [str(row["middleware_us"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compression", description=__doc__)
    parser.add_argument("--repeat", type=int, default=200, help="timed calls per median")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-compression-") as workdir:
        answers = asyncio.run(real_answers(Path(workdir)))
    rows = measure(answers, args.repeat)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
