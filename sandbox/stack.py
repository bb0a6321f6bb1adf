"""`make run`: the whole stack on this machine for development and demos.

The development identity provider is served in this process; the two sandbox services
and the gateway run as child processes. Ctrl-C stops everything.

The sandboxes run with their /_sandbox/ admin surface on (fault injection, variants and
`python -m sandbox settle`); SANDBOX_VARIANT (e.g. `omit_nulls,batch_order=shuffled`)
starts both in that variant (sandbox/common/variants.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth.principal import Role
from app.core.settings import (
    DEV_IDP_URL,
    DEV_JWT_AUDIENCE,
    DEV_JWT_ISSUER,
    SANDBOX_INVOICING_TOKEN,
    SANDBOX_PAYMENTS_TOKEN,
)
from app.serve.guard import UVICORN_HTTP
from sandbox.devkeys import load_or_create_private_key, mint_token
from sandbox.idp import create_idp_app
from sandbox.seed import DEMO_BUSINESS_IDS

HOST = "127.0.0.1"
IDP_PORT, INVOICING_PORT, PAYMENTS_PORT, GATEWAY_PORT = 8100, 8101, 8102, 8000
READY_TIMEOUT_SECONDS = 60


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((HOST, port)) != 0


def _demo_tokens(private_key: rsa.RSAPrivateKey) -> dict[str, str]:
    first, second = DEMO_BUSINESS_IDS[0], DEMO_BUSINESS_IDS[1]
    people = {
        f"owner of {first}": ("demo_owner", [(first, Role.OWNER)], None),
        f"admin of {first}": ("demo_admin", [(first, Role.ADMIN)], None),
        f"accountant of {first}": ("demo_accountant", [(first, Role.ACCOUNTANT)], None),
        f"viewer of {first}": ("demo_viewer", [(first, Role.VIEWER)], None),
        f"owner of {second}": ("demo_owner_in", [(second, Role.OWNER)], None),
        f"partner app (invoices:read) for {first}": (
            "demo_partner",
            [(first, Role.OWNER)],
            ["invoices:read"],
        ),
    }
    return {
        label: mint_token(
            private_key,
            issuer=DEV_JWT_ISSUER,
            audience=DEV_JWT_AUDIENCE,
            subject=subject,
            memberships=memberships,
            scopes=scopes,
        )
        for label, (subject, memberships, scopes) in people.items()
    }


async def _wait_ready(url: str, processes: list[asyncio.subprocess.Process]) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        for _ in range(READY_TIMEOUT_SECONDS * 4):
            if any(process.returncode is not None for process in processes):
                raise RuntimeError("a service exited during start-up (see its output above)")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url, timeout=1)).status_code == 200:
                    return
            await asyncio.sleep(0.25)
    raise RuntimeError(f"not ready after {READY_TIMEOUT_SECONDS}s: {url}")


async def _serve(data_dir: Path, private_key: rsa.RSAPrivateKey) -> int:
    busy = [p for p in (IDP_PORT, INVOICING_PORT, PAYMENTS_PORT, GATEWAY_PORT) if not _port_free(p)]
    if busy:
        print(f"error: port(s) {busy} on {HOST} are in use; stop what holds them first")
        return 1
    idp = uvicorn.Server(
        uvicorn.Config(create_idp_app(private_key), host=HOST, port=IDP_PORT, log_level="warning")
    )
    idp_task = asyncio.create_task(idp.serve())

    python = sys.executable
    tokens = _demo_tokens(private_key)
    environment = {**os.environ, "APP_ENV": "development"}
    # Only the gateway gets the demo token, for GraphiQL's Headers tab (development only).
    gateway_environment = {
        # A demo's bank transfer, settled by hand (python -m sandbox settle), is recorded
        # within seconds rather than the production pace of minutes.
        "SETTLEMENT_POLL_SECONDS": "2",
        "SETTLEMENT_MAX_BACKOFF_SECONDS": "10",
        **environment,
        "GRAPHIQL_DEMO_TOKEN": next(iter(tokens.values())),
    }
    # Development only, and said explicitly: these sandboxes accept faults, variants and
    # settling from anyone holding their (public) token.
    sandbox_flags = ["--admin"]
    if os.environ.get("SANDBOX_VARIANT"):
        sandbox_flags += ["--variant", os.environ["SANDBOX_VARIANT"]]
    commands = [
        [
            python,
            "-m",
            "sandbox",
            "invoicing",
            "--host",
            HOST,
            "--port",
            str(INVOICING_PORT),
            "--token",
            SANDBOX_INVOICING_TOKEN,
            "--db",
            str(data_dir / "sandbox-invoicing.db"),
            *sandbox_flags,
        ],
        [
            python,
            "-m",
            "sandbox",
            "payments",
            "--host",
            HOST,
            "--port",
            str(PAYMENTS_PORT),
            "--token",
            SANDBOX_PAYMENTS_TOKEN,
            "--db",
            str(data_dir / "sandbox-payments.db"),
            *sandbox_flags,
        ],
        [
            python,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            HOST,
            "--port",
            str(GATEWAY_PORT),
            "--loop",
            "uvloop",
            "--http",
            UVICORN_HTTP,
            "--log-level",
            "warning",
        ],
    ]
    processes = [
        await asyncio.create_subprocess_exec(
            *command, env=gateway_environment if command is commands[-1] else environment
        )
        for command in commands
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await _wait_ready(f"{DEV_IDP_URL}/.well-known/jwks.json", processes)
        await _wait_ready(f"http://{HOST}:{GATEWAY_PORT}/readyz", processes)
        _print_banner(tokens)
        waiters = [asyncio.create_task(process.wait()) for process in processes]
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([*waiters, stopper], return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            print("a service stopped unexpectedly; shutting down")
            return 1
        return 0
    except RuntimeError as exc:
        print(f"error: {exc}")
        return 1
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
        idp.should_exit = True
        await idp_task
        print("stopped")


def _print_banner(tokens: dict[str, str]) -> None:
    url = f"http://{HOST}:{GATEWAY_PORT}/graphql"
    print("\n" + "=" * 78)
    print(f"GraphiQL:  {url}")
    print(f"Health:    http://{HOST}:{GATEWAY_PORT}/healthz   Ready: /readyz")
    first = next(iter(tokens))
    print(f"GraphiQL opens as the {first}, with the dashboard query; to be someone else,")
    print("paste one of these into its Headers tab:\n")
    for label, token in tokens.items():
        print(f"# {label}")
        print(f'{{"Authorization": "Bearer {token}"}}\n')
    print("A bank transfer (pm_bank_transfer) stays PENDING; settle it as the bank would:")
    print("  .venv/bin/python -m sandbox settle pay_XXX succeeded      (or: failed)\n")
    print("Ctrl-C stops everything.")
    print("=" * 78, flush=True)


def run() -> int:
    data_dir = Path(os.environ.get("DEV_DATA_DIR", "./var"))
    data_dir.mkdir(parents=True, exist_ok=True)
    private_key = load_or_create_private_key(data_dir / "dev-jwt-key.pem")
    return asyncio.run(_serve(data_dir, private_key))


if __name__ == "__main__":
    sys.exit(run())
