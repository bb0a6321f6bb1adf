"""`make run`: the whole stack on this machine for development and demos.

The development identity provider is served in this process; the two sandbox services
and the gateway run as child processes. Ctrl-C stops everything.

The sandboxes run with their /_sandbox/ admin surface on (fault injection, variants and
`python -m sandbox settle`); SANDBOX_VARIANT (e.g. `omit_nulls,batch_order=shuffled`)
starts both in that variant (sandbox/common/variants.py).

Every start is a fresh world. The sandboxes recreate their databases from the seed, so
the gateway's development database (idempotency keys, outbox, payment locks and watch
list) is deleted with them: a key kept from an earlier run would replay objects that no
longer exist. Only the file this stack owns is reset, `$DEV_DATA_DIR/gateway.db` (default
`var/gateway.db`, the gateway's own default), and only when DATABASE_URL is not set: a
database someone configured is theirs, kept, and the banner says so. This module is
development tooling (not in the wheel or the image), and its children run with
APP_ENV=development.

The ports are 8000 (gateway), 8100 (identity provider), 8101 and 8102 (sandboxes);
DEV_GATEWAY_PORT, DEV_IDP_PORT, DEV_INVOICING_PORT and DEV_PAYMENTS_PORT move them (a
second stack beside a running one; tests), and the gateway is then pointed at them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth.principal import Role
from app.core.settings import (
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


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


IDP_PORT = _port("DEV_IDP_PORT", 8100)
INVOICING_PORT = _port("DEV_INVOICING_PORT", 8101)
PAYMENTS_PORT = _port("DEV_PAYMENTS_PORT", 8102)
GATEWAY_PORT = _port("DEV_GATEWAY_PORT", 8000)
READY_TIMEOUT_SECONDS = 60
GATEWAY_DATABASE_FILE = "gateway.db"
# SQLite's own files beside the database: a journal or WAL left behind would be replayed
# into the new file.
_SQLITE_SIDECARS = ("", "-journal", "-wal", "-shm")


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


def reset_gateway_database(
    data_dir: Path, environ: Mapping[str, str]
) -> tuple[dict[str, str], str]:
    """The gateway's database settings for this start, and the banner's line about it.

    Without DATABASE_URL, the gateway's database is the stack's own file in `data_dir`,
    deleted here (before the gateway starts, which migrates a new one in development).
    With DATABASE_URL set, nothing is deleted: it was not the stack's to reset.
    """
    if environ.get("DATABASE_URL"):
        return {}, (
            "Reset: sandboxes reseeded; gateway database KEPT (DATABASE_URL is set, so it is"
            " not the stack's): idempotency keys of earlier runs may replay"
        )
    path = (data_dir / GATEWAY_DATABASE_FILE).resolve()
    for suffix in _SQLITE_SIDECARS:
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return (
        {"DATABASE_URL": f"sqlite+aiosqlite:///{path}"},
        f"Reset: sandboxes reseeded, gateway database recreated at {path}",
    )


def _service_urls(environ: Mapping[str, str]) -> dict[str, str]:
    """Points the gateway at this stack's services where they moved from the defaults
    its development settings assume."""
    moved = {
        "INVOICING_URL": (INVOICING_PORT, 8101),
        "PAYMENTS_URL": (PAYMENTS_PORT, 8102),
        "JWT_JWKS_URL": (IDP_PORT, 8100),
    }
    urls = {}
    for name, (port, default) in moved.items():
        if port != default and not environ.get(name):
            path = "/.well-known/jwks.json" if name == "JWT_JWKS_URL" else ""
            urls[name] = f"http://{HOST}:{port}{path}"
    return urls


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
    database, reset_line = reset_gateway_database(data_dir, os.environ)
    # Only the gateway gets the demo token, for GraphiQL's Headers tab (development only).
    gateway_environment = {
        # A demo's bank transfer, settled by hand (python -m sandbox settle), is recorded
        # within seconds rather than the production pace of minutes.
        "SETTLEMENT_POLL_SECONDS": "2",
        "SETTLEMENT_MAX_BACKOFF_SECONDS": "10",
        **environment,
        **database,
        **_service_urls(os.environ),
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
        await _wait_ready(f"http://{HOST}:{IDP_PORT}/.well-known/jwks.json", processes)
        await _wait_ready(f"http://{HOST}:{GATEWAY_PORT}/readyz", processes)
        _print_banner(tokens, reset_line)
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


def _print_banner(tokens: dict[str, str], reset_line: str) -> None:
    url = f"http://{HOST}:{GATEWAY_PORT}/graphql"
    print("\n" + "=" * 78)
    print(reset_line)
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
