"""The soak's saturation ramp and its bank (deploy/local/soak.py, deploy/local/bank.py),
without a soak: which rate counts as saturation, which transfers the bank settles, and
that a transfer the bank could not settle is asked again while one it settled is not."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.db.engine import create_engine
from app.db.tables import metadata, payment_watch
from deploy.local.bank import Bank, due, watched_pending
from deploy.local.chaos.workload import Sample
from deploy.local.soak import KNEE_P99_MS, ramp_rates, saturation_of, step_verdict


def _samples(latencies: list[float], error_at: int | None = None) -> list[Sample]:
    return [
        Sample(at=float(i), operation="read", latency_ms=ms, error=i == error_at, status=200)
        for i, ms in enumerate(latencies)
    ]


def test_a_step_is_sustained_only_on_time_without_errors_and_within_the_knee() -> None:
    quick = _samples([20.0] * 99 + [300.0])
    assert step_verdict(10.0, quick, skipped=0)["sustained"] is True
    assert step_verdict(10.0, quick, skipped=1)["sustained"] is False
    assert step_verdict(10.0, _samples([20.0] * 100, error_at=3), 0)["sustained"] is False
    slow = _samples([20.0] * 90 + [KNEE_P99_MS + 1] * 10)
    assert step_verdict(10.0, slow, skipped=0) == {
        "rate_rps": 10.0,
        "sent": 100,
        "errors": 0,
        "not_started": 0,
        "p99_ms": KNEE_P99_MS + 1,
        "sustained": False,
    }
    assert step_verdict(10.0, [], skipped=0)["sustained"] is False


def test_saturation_is_the_last_sustained_rate_before_the_first_that_was_not() -> None:
    steps = [
        {"rate_rps": 10.0, "sustained": True},
        {"rate_rps": 11.5, "sustained": True},
        {"rate_rps": 13.2, "sustained": False},
        {"rate_rps": 15.2, "sustained": True},  # a lucky step after the knee counts not
    ]
    assert saturation_of(steps) == 11.5
    assert saturation_of([{"rate_rps": 10.0, "sustained": False}]) == 0.0


def test_the_ramp_grows_by_fifteen_percent_a_step_from_its_start() -> None:
    rates = ramp_rates(10.0)
    assert rates[:3] == pytest.approx([10.0, 11.5, 13.225])
    assert all(b / a == pytest.approx(1.15) for a, b in itertools.pairwise(rates))


def test_each_candidate_is_due_once_unless_already_settled() -> None:
    assert due(["a", "b", "a", "c"], settled={"b"}) == ["a", "c"]


class FakeSettlement:
    """The payments sandbox's settle route as the bank sees it: 200 the first time, 409
    once settled, and 503 for the ids told to fail."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.calls: Counter[str] = Counter()
        self.settled: dict[str, str] = {}
        self.app = Starlette(
            routes=[Route("/_sandbox/payments/{pid}/settle", self.settle, methods=["POST"])]
        )

    async def settle(self, request: Request) -> JSONResponse:
        pid = request.path_params["pid"]
        self.calls[pid] += 1
        if pid in self.failing:
            return JSONResponse({"code": "UNAVAILABLE"}, status_code=503)
        if pid in self.settled:
            return JSONResponse({"code": "ALREADY_SETTLED"}, status_code=409)
        self.settled[pid] = (await request.json())["status"]
        return JSONResponse({"id": pid, "status": self.settled[pid]})


async def test_the_bank_settles_every_source_s_transfers_once_and_asks_again_after_a_failure() -> (
    None
):
    # Given a transfer the workload saw, two the gateways took (one also seen), one the
    # service refuses for now, one settled by someone else already, and a source that fails
    service = FakeSettlement(failing={"p-down"})
    service.settled["p-elsewhere"] = "succeeded"

    async def seen() -> list[str]:
        return ["p-seen", "p-both"]

    async def taken() -> list[str]:
        return ["p-both", "p-taken", "p-down", "p-elsewhere"]

    async def broken() -> list[str]:
        raise OSError("connection refused")

    bank = Bank("http://payments", "token", (seen, broken, taken))
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://payments") as client:
        # When the bank runs two rounds
        first = await bank.round(client)
        service.failing.clear()
        second = await bank.round(client)

    # Then each transfer was settled once; the refused one was asked again and settled
    assert (first, second) == (4, 1)
    assert bank.settled == {"p-seen", "p-both", "p-taken", "p-elsewhere", "p-down"}
    assert service.calls == {
        "p-seen": 1,
        "p-both": 1,
        "p-taken": 1,
        "p-elsewhere": 1,
        "p-down": 2,
    }
    assert set(service.settled.values()) <= {"succeeded", "failed"}
    # and the failing source and the refused call were counted, not raised
    assert bank.failures == 3


async def test_the_bank_goes_round_until_told_to_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a bank going round every 10 ms, told to stop during its second round
    rounds: list[int] = []
    stop = asyncio.Event()

    async def no_transfers() -> list[str]:
        rounds.append(1)
        if len(rounds) == 2:
            stop.set()
        return []

    monkeypatch.setattr("deploy.local.bank.EVERY_S", 0.01)
    # When it runs, then it ends after that round
    await asyncio.wait_for(Bank("http://payments", "t", (no_transfers,)).run(stop), 5)
    assert len(rounds) == 2


async def test_the_gateways_pending_transfers_older_than_the_delay_are_the_banks_to_settle(
    postgres_url: str,
) -> None:
    # Given the gateway's watch list with transfers pending for a while, just taken,
    # and already being recorded
    engine = create_engine(postgres_url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            await connection.execute(
                insert(payment_watch),
                [
                    _watch("p-old", "pending", now - timedelta(seconds=30)),
                    _watch("p-new", "pending", now),
                    _watch("p-recording", "recording", now - timedelta(seconds=30)),
                ],
            )
    finally:
        await engine.dispose()
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    # When the bank reads it, then only the old pending one is due
    assert await watched_pending(dsn) == ["p-old"]


def _watch(payment_id: str, state: str, taken_at: datetime) -> dict[str, object]:
    return {
        "payment_id": payment_id,
        "invoice_id": "inv_1",
        "business_id": "biz_1",
        "amount": 100,
        "currency": "GBP",
        "scope_digest": "d" * 64,
        "idempotency_key": f"key-{payment_id}",
        "actor_id": "usr_1",
        "state": state,
        "next_check_at": taken_at,
        "taken_at": taken_at,
    }
