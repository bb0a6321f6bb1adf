"""The soak's bank: every bank transfer the payments service holds as pending settles a few
seconds after it was taken, whoever asked for it and whether or not its answer arrived.

The chaos workload's settler (Workload.settle_pending) settles only the transfers whose
PENDING answer the load generator received, one at a time. That is right for the chaos
run, whose invariants follow each key, but under load it is not a bank: a transfer whose
answer was lost (a timeout, a closed connection) stayed pending for ever, and the
gateways' settlers kept checking it every SETTLEMENT_MAX_BACKOFF_SECONDS. The 30-minute
soak of 2026-12-03 counted its "pending settlements" backlog growing from 57 to 314
rows; a run that cannot tell that harness artefact from a gateway that falls behind
proves nothing. So this bank takes its list where a bank would see it, the transfers
taken (the gateway's watch list, read straight from its database, which names every
pending payment the gateways took, answered or not) plus those the workload saw, and
settles each once, several at a time, one in five bouncing.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Iterable

import asyncpg
import httpx

SETTLE_AFTER_S = 5.0
EVERY_S = 1.0
AT_ONCE = 8
BOUNCE_RATE = 0.2

PENDING_SQL = (
    "SELECT payment_id FROM payment_watch WHERE state = 'pending'"
    " AND taken_at < now() - make_interval(secs => $1)"
)


async def watched_pending(dsn: str) -> list[str]:
    """The pending payments the gateways took more than SETTLE_AFTER_S ago."""
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await connection.fetch(PENDING_SQL, SETTLE_AFTER_S)
    finally:
        await connection.close()
    return [row["payment_id"] for row in rows]


def due(candidates: Iterable[str], settled: set[str]) -> list[str]:
    """Each candidate once, in order, less those already settled."""
    return [p for p in dict.fromkeys(candidates) if p not in settled]


class Bank:
    def __init__(
        self,
        settle_url: str,
        token: str,
        sources: Iterable[Callable[[], Awaitable[Iterable[str]]]],
        seed: int = 19,
    ) -> None:
        self.settle_url = settle_url
        self.token = token
        self.sources = list(sources)
        self.settled: set[str] = set()
        self.failures = 0
        self.random = random.Random(seed)  # noqa: S311 - reproducible choices, not secrets

    async def round(self, client: httpx.AsyncClient) -> int:
        """One pass: every due transfer settled (200) or found settled already (409)."""
        candidates: list[str] = []
        for source in self.sources:
            try:
                candidates.extend(await source())
            except (OSError, TimeoutError, asyncpg.PostgresError):
                self.failures += 1  # the next round asks again
        limit = asyncio.Semaphore(AT_ONCE)

        async def settle(payment_id: str) -> bool:
            status = "failed" if self.random.random() < BOUNCE_RATE else "succeeded"
            async with limit:
                try:
                    answer = await client.post(
                        f"{self.settle_url}/_sandbox/payments/{payment_id}/settle",
                        json={"status": status},
                    )
                except httpx.HTTPError:
                    self.failures += 1
                    return False
            if answer.status_code in (200, 409):
                self.settled.add(payment_id)
                return True
            self.failures += 1
            return False

        done = await asyncio.gather(*(settle(p) for p in due(candidates, self.settled)))
        return sum(done)

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(
            timeout=5, trust_env=False, headers={"Authorization": f"Bearer {self.token}"}
        ) as client:
            while not stop.is_set():
                await self.round(client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), EVERY_S)
