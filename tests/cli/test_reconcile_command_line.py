"""`python -m app reconcile` as a process: its help, its exit statuses for bad usage and
bad settings (2), and for services it cannot reach (3). The drift itself is tested in
process (tests/reconcile/test_reconcile_command.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.paths import REPO_ROOT


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "app", "reconcile", *args],
        env={"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(REPO_ROOT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def production(tmp_path: Path, port: int) -> dict[str, str]:
    """A complete production environment whose services listen nowhere."""
    return {
        "APP_ENV": "production",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
        "INVOICING_URL": f"http://127.0.0.1:{port}",
        "INVOICING_TOKEN": "cli-invoicing-token",
        "PAYMENTS_URL": f"http://127.0.0.1:{port}",
        "PAYMENTS_TOKEN": "cli-payments-token",
        "JWT_ISSUER": "https://id.cli.test/",
        "JWT_AUDIENCE": "fintech-gateway",
        "JWT_JWKS_URL": "https://id.cli.test/.well-known/jwks.json",
        "DOWNSTREAM_MAX_ATTEMPTS": "1",
    }


def test_help_says_what_it_compares_where_the_businesses_come_from_and_the_exit_statuses(
    tmp_path: Path,
) -> None:
    finished = run(["--help"], {}, tmp_path)

    assert finished.returncode == 0, finished.stderr
    text = " ".join(finished.stdout.split())
    for words in (
        "usage: python -m app reconcile [-h] [--business ID] [--json] [--repair] [--max-pages N]",
        "succeeded_unrecorded",
        "recorded_not_succeeded",
        "over_collected",
        "pending_too_long",
        "Without --business, the businesses in the payment_watch table are reconciled",
        "the services' contracts have no way to list every business",
        "Payments the gateway did not take are reported, never touched",
        "exit status: 0 no drift; 1 drift found",
        "2 bad settings or usage; 3 no drift found, but a business could not be read in full",
    ):
        assert words in text


def test_bad_settings_exit_2_naming_each_problem(tmp_path: Path) -> None:
    finished = run(["--business", "biz_GBdemo"], {"APP_ENV": "production"}, tmp_path)

    assert finished.returncode == 2
    assert finished.stdout == ""
    assert finished.stderr.startswith("error: invalid settings: ")
    for name in ("INVOICING_URL", "PAYMENTS_TOKEN", "JWT_JWKS_URL"):
        assert f"{name}: required" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_a_malformed_business_id_is_a_usage_error(tmp_path: Path, unused_port: int) -> None:
    finished = run(["--business", "inv_1; drop"], production(tmp_path, unused_port), tmp_path)

    assert finished.returncode == 2
    assert "argument --business: 'inv_1; drop' is not a business id (biz_...)" in finished.stderr


def test_services_out_of_reach_exit_3_with_the_business_reported_unread(
    tmp_path: Path, unused_port: int
) -> None:
    finished = run(["--business", "biz_GBdemo"], production(tmp_path, unused_port), tmp_path)

    assert finished.returncode == 3, finished.stderr
    lines = finished.stdout.splitlines()
    assert lines[:3] == ["reconciled 1 business: biz_GBdemo", "", "not read in full:"]
    assert lines[3].startswith("  biz_GBdemo: not read: ")
    assert lines[-1] == "no drift in what was read"


def test_a_database_without_the_watch_table_exits_3_in_one_line(
    tmp_path: Path, unused_port: int
) -> None:
    # given a production database nobody migrated (production does not migrate on start)
    finished = run([], production(tmp_path, unused_port), tmp_path)

    assert finished.returncode == 3
    assert finished.stdout == ""
    assert finished.stderr == (
        "error: the database: OperationalError: (sqlite3.OperationalError) "
        "no such table: payment_watch\n"
    )
