"""Everywhere the gateway is served, it is served through the guard, and its limits are
the ones README's limits table states."""

from __future__ import annotations

import inspect
import re

from app.serve import guard
from sandbox import stack
from tests.mutations import processes
from tests.paths import REPO_ROOT
from tests.test_served_app import dockerfile_command


def test_the_image_serves_through_the_guard_with_uvloop() -> None:
    command = dockerfile_command()
    assert command[command.index("--http") + 1] == guard.UVICORN_HTTP
    assert command[command.index("--loop") + 1] == "uvloop"


def test_the_guard_names_itself_as_uvicorn_imports_it() -> None:
    module, name = guard.UVICORN_HTTP.split(":")
    assert module == guard.__name__
    assert getattr(guard, name) is guard.GuardedHttpToolsProtocol


def test_make_run_and_the_tests_real_gateways_serve_through_the_guard() -> None:
    for source in (inspect.getsource(stack._serve), inspect.getsource(processes.start_gateway)):
        assert '"--http",\n            UVICORN_HTTP,' in source


def test_readme_states_each_limit_with_its_value() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    rows = {
        "request head": f"`{guard.MAX_HEAD_BYTES}` (32 KiB)",
        "request head's time": f"`{guard.HEAD_TIMEOUT_SECONDS:g}` s",
        "request body's pauses": f"`{guard.BODY_IDLE_TIMEOUT_SECONDS:g}` s",
        "request body's time": f"`{guard.BODY_TIMEOUT_SECONDS:g}` s",
    }
    for limit, default in rows.items():
        row = re.search(
            rf"^\| {re.escape(limit)} \| [^|]+ \| {re.escape(default)} \|", readme, re.M
        )
        assert row is not None, f"README's limits table has no row {limit!r} with {default}"
