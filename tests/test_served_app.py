"""The served application refuses to start on bad settings.

Run exactly as the image runs it (the Dockerfile's CMD, on a free loopback port), with a
production environment that lacks the downstream and identity settings: the process must
exit at start-up with a failure status, naming each missing setting, instead of staying up
and answering every request with a 500.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from tests.paths import REPO_ROOT


def dockerfile_command() -> list[str]:
    text = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    match = re.search(r"^CMD (\[.*?\])\s*$", text, re.M | re.S)
    assert match is not None, "the Dockerfile has no exec-form CMD"
    command: list[str] = json.loads(match.group(1).replace("\\\n", ""))
    return command


def on_loopback(command: list[str], port: int) -> list[str]:
    """The same command, bound to 127.0.0.1:port, run by this interpreter."""
    args = list(command)
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    assert args[0] == "uvicorn"
    return [sys.executable, "-m", *args]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_image_command_exits_at_start_up_naming_the_missing_settings(
    tmp_path: Path,
) -> None:
    # given the image's command and a production environment without required settings
    command = on_loopback(dockerfile_command(), free_port())
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "APP_ENV": "production"}

    # when it starts
    finished = subprocess.run(  # noqa: S603 - this interpreter, the Dockerfile's arguments
        command, env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )

    # then it exits with uvicorn's start-up failure status, saying what is missing
    assert finished.returncode == 3, finished.stderr
    assert "Application startup failed" in finished.stderr
    for name in ("INVOICING_URL", "PAYMENTS_TOKEN", "JWT_JWKS_URL"):
        assert f"{name}: required" in finished.stderr
    assert "Traceback" not in finished.stderr
