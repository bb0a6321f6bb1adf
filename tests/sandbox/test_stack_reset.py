"""`make run` starts a fresh world: the sandboxes are reseeded and the gateway's
development database (idempotency keys, outbox, locks, watch list) is recreated with
them, so an idempotency key used in one run does not replay in the next. Only the file
the stack owns is ever deleted; a configured DATABASE_URL is kept, and the banner says
which happened.

The last test runs `python -m sandbox.stack` itself, twice, on free ports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from sandbox.stack import reset_gateway_database
from tests.mutations.processes import ROOT, clean_environment, free_port

BANNER_END = "Ctrl-C stops everything."
START_TIMEOUT = 90.0
ACCOUNTANT = "# accountant of biz_GBdemo"
CREATE_CUSTOMER = """mutation {
  createCustomer(input: {
    idempotencyKey: "stack-reset-0001", businessId: "biz_GBdemo", name: "Harbour Books Ltd"
  }) { customer { name } userErrors { code } replayed }
}"""


def _gateway_files(data_dir: Path) -> list[str]:
    return sorted(path.name for path in data_dir.iterdir())


def test_a_start_deletes_the_stacks_own_gateway_database_and_nothing_else(tmp_path: Path) -> None:
    for name in ("gateway.db", "gateway.db-wal", "gateway.db-shm", "gateway.db-journal"):
        (tmp_path / name).write_text("from an earlier run")
    (tmp_path / "dev-jwt-key.pem").write_text("the demo tokens' key")
    (tmp_path / "notes.db").write_text("someone else's")

    settings, line = reset_gateway_database(tmp_path, {})

    assert _gateway_files(tmp_path) == ["dev-jwt-key.pem", "notes.db"]
    path = (tmp_path / "gateway.db").resolve()
    assert settings == {"DATABASE_URL": f"sqlite+aiosqlite:///{path}"}
    assert line == f"Reset: sandboxes reseeded, gateway database recreated at {path}"


def test_a_first_start_has_nothing_to_delete(tmp_path: Path) -> None:
    settings, _ = reset_gateway_database(tmp_path, {})

    assert _gateway_files(tmp_path) == []
    assert settings["DATABASE_URL"].endswith("/gateway.db")


def test_a_configured_database_is_kept_and_the_banner_says_so(tmp_path: Path) -> None:
    # Even a SQLite file at the very place the stack would use: it was configured.
    (tmp_path / "gateway.db").write_text("configured by its owner")
    configured = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"}

    settings, line = reset_gateway_database(tmp_path, configured)

    assert (tmp_path / "gateway.db").read_text() == "configured by its owner"
    assert settings == {}
    assert line == (
        "Reset: sandboxes reseeded; gateway database KEPT (DATABASE_URL is set, so it is"
        " not the stack's): idempotency keys of earlier runs may replay"
    )


class RunningStack:
    def __init__(self, log: Path, gateway_url: str) -> None:
        self.log = log
        self.gateway_url = gateway_url

    def banner(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def token(self, label: str) -> str:
        lines = self.banner()
        header = json.loads(lines[lines.index(label) + 1])
        return str(header["Authorization"])


@contextlib.asynccontextmanager
async def make_run(data_dir: Path, log: Path) -> AsyncIterator[RunningStack]:
    """`python -m sandbox.stack` until its banner is printed; then Ctrl-C, and waited for."""
    ports = {name: str(free_port()) for name in ("GATEWAY", "IDP", "INVOICING", "PAYMENTS")}
    env = clean_environment(
        APP_ENV="development",
        DEV_DATA_DIR=str(data_dir),
        **{f"DEV_{name}_PORT": port for name, port in ports.items()},
    )
    with log.open("wb") as output:
        # A session of its own: whatever is left of it at the end can be stopped by group.
        stack = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sandbox.stack",
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        running = RunningStack(log, f"http://127.0.0.1:{ports['GATEWAY']}")
        ends = time.monotonic() + START_TIMEOUT
        while BANNER_END not in running.banner():
            if stack.returncode is not None or time.monotonic() > ends:
                raise AssertionError(
                    "make run did not start:\n" + "\n".join(running.banner()[-60:])
                )
            await asyncio.sleep(0.2)
        yield running
    finally:
        if stack.returncode is None:
            stack.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(stack.wait(), 30)
            except TimeoutError:
                os.killpg(stack.pid, signal.SIGKILL)
                await stack.wait()


async def create_customer(stack: RunningStack) -> object:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        response = await client.post(
            f"{stack.gateway_url}/graphql",
            json={"query": CREATE_CUSTOMER},
            headers={"Authorization": stack.token(ACCOUNTANT)},
        )
    return response.json()


def answer(*, replayed: bool) -> object:
    customer = {"customer": {"name": "Harbour Books Ltd"}, "userErrors": [], "replayed": replayed}
    return {"data": {"createCustomer": customer}}


async def test_a_key_used_in_one_run_does_not_replay_in_the_next(tmp_path: Path) -> None:
    database = (tmp_path / "gateway.db").resolve()
    reset_line = f"Reset: sandboxes reseeded, gateway database recreated at {database}"

    # Given a first run in which a key was used (and, within the run, replays)
    async with make_run(tmp_path, tmp_path / "first.log") as first:
        assert reset_line in first.banner()
        assert await create_customer(first) == answer(replayed=False)
        assert await create_customer(first) == answer(replayed=True)
    assert database.exists()

    # When make run starts again, Then the key is new: the customer is created afresh
    async with make_run(tmp_path, tmp_path / "second.log") as second:
        assert reset_line in second.banner()
        assert await create_customer(second) == answer(replayed=False)
