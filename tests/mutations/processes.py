"""Real processes for the crash test: sandbox services, the identity provider and gateway
processes on free loopback ports, each waited for (bounded) and always stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from app.core.settings import Settings
from app.serve.guard import UVICORN_HTTP
from sandbox.devkeys import load_or_create_private_key
from tests.mutations.helpers import Sandbox

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

_IDP_SCRIPT = (
    "import sys, uvicorn\n"
    "from sandbox.devkeys import load_or_create_private_key\n"
    "from sandbox.idp import create_idp_app\n"
    "uvicorn.run(create_idp_app(load_or_create_private_key(sys.argv[1])),"
    " host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')\n"
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Process:
    name: str
    proc: asyncio.subprocess.Process
    log_path: Path
    _log: IO[bytes]

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    async def kill_hard(self) -> None:
        """kill -9: no shutdown, no cleanup, nothing flushed."""
        if self.running:
            self.proc.kill()
        await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)

    async def stop(self) -> None:
        try:
            if self.running:
                self.proc.terminate()
                try:
                    await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
                except TimeoutError:
                    self.proc.kill()
                    await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
        finally:
            self._log.close()


class Processes:
    """Every process a test starts; `stop_all` (in a finally) leaves none behind."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._all: list[Process] = []

    async def spawn(
        self, name: str, args: list[str], env: Mapping[str, str] | None = None
    ) -> Process:
        log_path = self._log_dir / f"{name}.log"
        log = log_path.open("wb")
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *args,
                cwd=ROOT,
                env=dict(env) if env is not None else clean_environment(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        except BaseException:
            log.close()
            raise
        process = Process(name, proc, log_path, log)
        self._all.append(process)
        return process

    async def stop_all(self) -> None:
        results = await asyncio.gather(
            *(p.stop() for p in reversed(self._all)), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]


def clean_environment(**settings: str) -> dict[str, str]:
    """This environment without any gateway setting, plus `settings`."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env["PYTHONUNBUFFERED"] = "1"
    return {**env, **settings}


async def wait_ready(process: Process, url: str, headers: Mapping[str, str] | None = None) -> None:
    """Until GET `url` answers 200; fails (with the process's log) if it exits or times out."""
    ends = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
        while True:
            if not process.running:
                raise AssertionError(f"{process.name} exited early:\n{process.log()}")
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get(url, headers=dict(headers or {}))
                if response.status_code == 200:
                    return
            if time.monotonic() >= ends:
                raise AssertionError(f"{process.name} not ready at {url}:\n{process.log()}")
            await asyncio.sleep(0.1)


async def start_sandbox(processes: Processes, service: str, token: str) -> tuple[Process, str]:
    port = free_port()
    process = await processes.spawn(
        service, ["-m", "sandbox", service, "--port", str(port), "--token", token]
    )
    return process, f"http://127.0.0.1:{port}"


async def start_idp(processes: Processes, key_path: Path) -> tuple[Process, str]:
    port = free_port()
    process = await processes.spawn("idp", ["-c", _IDP_SCRIPT, str(key_path), str(port)])
    return process, f"http://127.0.0.1:{port}"


async def start_gateway(
    processes: Processes, name: str, settings: Mapping[str, str]
) -> tuple[Process, str]:
    port = free_port()
    process = await processes.spawn(
        name,
        [
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--http",
            UVICORN_HTTP,
            "--log-level",
            "warning",
        ],
        clean_environment(**settings),
    )
    return process, f"http://127.0.0.1:{port}"


@dataclass
class Services:
    """Sandbox services and an identity provider, each a real process, and the gateway
    settings that reach them."""

    invoicing: Sandbox
    payments: Sandbox
    signing_key: rsa.RSAPrivateKey
    settings: dict[str, str]


async def start_services(
    processes: Processes,
    key_dir: Path,
    *,
    database_url: str,
    issuer: str,
    audience: str,
    invoicing_token: str,
    payments_token: str,
) -> Services:
    key_path = key_dir / "idp-key.pem"
    signing_key: rsa.RSAPrivateKey = load_or_create_private_key(key_path)
    (
        (invoicing_proc, invoicing_url),
        (payments_proc, payments_url),
        (idp_proc, idp_url),
    ) = await asyncio.gather(
        start_sandbox(processes, "invoicing", invoicing_token),
        start_sandbox(processes, "payments", payments_token),
        start_idp(processes, key_path),
    )
    invoicing = Sandbox(invoicing_token, base_url=invoicing_url)
    payments = Sandbox(payments_token, base_url=payments_url)
    await asyncio.gather(
        wait_ready(invoicing_proc, f"{invoicing_url}/_sandbox/faults", invoicing.auth()),
        wait_ready(payments_proc, f"{payments_url}/_sandbox/faults", payments.auth()),
        wait_ready(idp_proc, f"{idp_url}/.well-known/jwks.json"),
    )
    settings = {
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "INVOICING_URL": invoicing_url,
        "INVOICING_TOKEN": invoicing_token,
        "PAYMENTS_URL": payments_url,
        "PAYMENTS_TOKEN": payments_token,
        "JWT_ISSUER": issuer,
        "JWT_AUDIENCE": audience,
        "JWT_JWKS_URL": f"{idp_url}/.well-known/jwks.json",
        "JWT_ALGORITHMS": "RS256",
    }
    return Services(invoicing, payments, signing_key, settings)
