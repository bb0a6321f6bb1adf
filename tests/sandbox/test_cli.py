"""The `python -m sandbox` entry point."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from sandbox import __main__ as cli
from sandbox.common.variants import Variant
from sandbox.seed import GB_BUSINESS_ID, INVOICES
from tests.sandbox.conftest import Apps, contract_client

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "want"),
    [
        (
            ["invoicing", "--token", "t"],
            cli.Options("invoicing", "127.0.0.1", 8101, "t", ":memory:", 0),
        ),
        (
            ["payments", "--token", "t"],
            cli.Options("payments", "127.0.0.1", 8102, "t", ":memory:", 0),
        ),
        (
            [
                "payments",
                "--host",
                "10.0.0.5",
                "--port",
                "9000",
                "--token",
                "t",
                "--db",
                "x.db",
                "--latency-ms",
                "250",
            ],
            cli.Options("payments", "10.0.0.5", 9000, "t", "x.db", 250),
        ),
        (
            ["invoicing", "--token", "t", "--no-admin"],
            cli.Options("invoicing", "127.0.0.1", 8101, "t", ":memory:", 0, admin=False),
        ),
        (
            ["payments", "--token", "t", "--admin", "--variant", "omit_nulls,short_pages"],
            cli.Options(
                "payments",
                "127.0.0.1",
                8102,
                "t",
                ":memory:",
                0,
                variant=Variant(omit_nulls=True, short_pages=True),
            ),
        ),
        (
            [
                "payments",
                "--token",
                "t",
                "--variant",
                "batch_order=shuffled",
                "--variant",
                "extra_fields=true,offset_timestamps",
                "--variant",
                "omit_nulls=false",
            ],
            cli.Options(
                "payments",
                "127.0.0.1",
                8102,
                "t",
                ":memory:",
                0,
                variant=Variant(batch_order="shuffled", extra_fields=True, offset_timestamps=True),
            ),
        ),
    ],
)
def test_parse_args(argv: list[str], want: cli.Options) -> None:
    assert cli.parse_args(argv) == want


@pytest.mark.parametrize(
    "argv",
    [
        ["invoicing"],
        ["billing", "--token", "t"],
        ["payments", "--token", "t", "--latency-ms", "-5"],
        ["payments", "--token", "t", "--port", "http"],
        ["payments", "--token", "t", "--variant", "sideways"],
        ["payments", "--token", "t", "--variant", "batch_order=sideways"],
        ["payments", "--token", "t", "--variant", "batch_order"],
        ["payments", "--token", "t", "--variant", "omit_nulls=yes"],
    ],
)
def test_bad_arguments_exit(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.parse_args(argv)
    assert exited.value.code == 2
    assert "usage:" in capsys.readouterr().err


async def test_build_app_recreates_the_db_file_from_the_seed(apps: Apps, tmp_path: Path) -> None:
    # given a database file left over from an earlier run
    db = tmp_path / "invoicing.db"
    stale = sqlite3.connect(db)
    stale.execute("CREATE TABLE invoices (junk TEXT)")
    stale.commit()
    stale.close()
    options = cli.parse_args(["invoicing", "--token", "t", "--db", str(db), "--latency-ms", "5"])
    # when
    app = apps.track(cli.build_app(options))
    # then it serves the seed, with the latency as its baseline
    async with contract_client(app, "invoicing", "http://invoicing.test") as client:
        client.headers["Authorization"] = "Bearer t"
        listed = await client.get(
            "/v1/invoices", params={"business_id": GB_BUSINESS_ID, "limit": 100}
        )
        faults = await client.get("/_sandbox/faults")
    assert len(listed.json()["data"]) == sum(1 for i in INVOICES if i.business_id == GB_BUSINESS_ID)
    assert faults.json()["latency_ms"] == 5


def test_main_runs_uvicorn_quietly(apps: Apps, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: dict[str, Any] = {}

    def fake_run(app: object, **kwargs: Any) -> None:
        assert isinstance(app, Starlette)
        ran.update(kwargs, app=apps.track(app))

    monkeypatch.setattr(uvicorn, "run", fake_run)
    cli.main(["payments", "--token", "t", "--port", "9999"])
    assert ran["host"] == "127.0.0.1"
    assert ran["port"] == 9999
    assert ran["log_level"] == "warning"
    assert ran["reload"] is False
    assert ran["app"].state.sandbox.token == "t"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_module_serves_over_http() -> None:
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "sandbox", "payments", "--port", str(port), "--token", "t"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/v1/balances?business_ids={GB_BUSINESS_ID}",
                    headers={"Authorization": "Bearer t"},
                )
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "sandbox did not start"
                time.sleep(0.05)
        assert response.status_code == 200
        assert response.json()["data"][0]["business_id"] == GB_BUSINESS_ID
    finally:
        server.terminate()
        server.communicate(timeout=10)


async def test_build_app_passes_the_admin_switch_and_the_variant(apps: Apps) -> None:
    # given options with the admin surface off and a variant
    options = cli.parse_args(["payments", "--token", "t", "--no-admin", "--variant", "omit_nulls"])
    # when
    app = apps.track(cli.build_app(options))
    # then the variant is the baseline, and no admin route exists
    assert app.state.sandbox.variant.current == Variant(omit_nulls=True)
    async with contract_client(app, "payments", "http://payments.test") as client:
        client.headers["Authorization"] = "Bearer t"
        faults = await client.get("/_sandbox/faults")
        balance = await client.get(f"/v1/balances?business_ids={GB_BUSINESS_ID}")
    assert faults.status_code == 404
    assert balance.status_code == 200
