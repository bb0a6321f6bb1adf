"""Everything a benchmark run starts: a throwaway PostgreSQL database, the identity
provider, both sandbox services, and (one at a time) the gateway, the baseline or the
Apollo peer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from app.auth.principal import Role
from bench import peer
from bench.load import stop_load
from bench.procs import (
    HOST,
    Child,
    Processes,
    StartupError,
    free_port,
    python,
    stopped_on_signals,
    wait_ready,
)
from sandbox.devkeys import load_or_create_private_key, mint_token
from sandbox.seed import GB_BUSINESS_ID, IN_BUSINESS_ID, IN_CUSTOMER_ID

ISSUER = "https://id.bench.example/"
AUDIENCE = "fintech-gateway"
INVOICING_TOKEN = "bench-invoicing-token"  # noqa: S105 - a local benchmark's own value
PAYMENTS_TOKEN = "bench-payments-token"  # noqa: S105 - a local benchmark's own value


@dataclass(frozen=True)
class Cpus:
    """Where things run: the server under test on `app`, everything else on `load`."""

    app: str | None
    load: str | None
    all: str | None


@dataclass
class Server:
    name: str
    child: Child
    port: int
    workers: int

    @property
    def pid(self) -> int:
        return self.child.pid


class Database:
    """A fresh PostgreSQL database for one run, dropped at the end."""

    def __init__(self, admin_url: str) -> None:
        # admin_url: postgresql://user@host:port/db of an existing database.
        self.admin_url = admin_url
        self.name = f"bench_{secrets.token_hex(4)}"
        base = admin_url.rsplit("/", 1)[0]
        self.url = f"{base}/{self.name}"
        self.sqlalchemy_url = self.url.replace("postgresql://", "postgresql+asyncpg://", 1)

    async def _admin(self, statement: str) -> None:
        connection = await asyncpg.connect(self.admin_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    def create(self) -> None:
        asyncio.run(self._admin(f'CREATE DATABASE "{self.name}"'))

    def drop(self) -> None:
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


class Stack:
    def __init__(
        self, processes: Processes, run_dir: Path, cpus: Cpus, latency_ms: int, cache: bool
    ) -> None:
        self.processes = processes
        self.run_dir = run_dir
        self.cpus = cpus
        self.latency_ms = latency_ms
        self.cache = cache
        self.key_path = run_dir / "jwt-key.pem"
        self.private_key = load_or_create_private_key(self.key_path)
        self.ports: dict[str, int] = {}
        self.sandboxes: dict[str, Child] = {}
        self.database: Database | None = None

    # -- the fixed parts ----------------------------------------------------------------

    def start_downstreams(self) -> None:
        idp_port = free_port()
        idp = self.processes.start(
            "idp",
            [
                python(),
                "-m",
                "bench.idp_server",
                "--port",
                str(idp_port),
                "--key",
                str(self.key_path),
            ],
            cpus=self.cpus.load,
        )
        self.ports["idp"] = idp_port
        for service, token in (("invoicing", INVOICING_TOKEN), ("payments", PAYMENTS_TOKEN)):
            port = free_port()
            argv = [
                python(),
                "-m",
                "bench.sandbox_server",
                service,
                "--port",
                str(port),
                "--token",
                token,
                "--latency-ms",
                str(self.latency_ms),
            ]
            if not self.cache:
                argv.append("--no-cache")
            self.sandboxes[service] = self.processes.start(
                f"sandbox-{service}", argv, cpus=self.cpus.load
            )
            self.ports[service] = port
        children = [idp, *self.sandboxes.values()]
        wait_ready(f"http://{HOST}:{idp_port}/.well-known/jwks.json", children)
        for service in self.sandboxes:
            wait_ready(f"{self.url(service)}/_sandbox/calls", children)

    def url(self, service: str) -> str:
        return f"http://{HOST}:{self.ports[service]}"

    def owner_token(self) -> str:
        return mint_token(
            self.private_key,
            issuer=ISSUER,
            audience=AUDIENCE,
            subject="bench_owner",
            memberships=[(GB_BUSINESS_ID, Role.OWNER), (IN_BUSINESS_ID, Role.OWNER)],
        )

    # -- the servers under test ---------------------------------------------------------

    def environment(self) -> dict[str, str]:
        env = {
            "APP_ENV": "production",
            "INVOICING_URL": self.url("invoicing"),
            "INVOICING_TOKEN": INVOICING_TOKEN,
            "PAYMENTS_URL": self.url("payments"),
            "PAYMENTS_TOKEN": PAYMENTS_TOKEN,
            "JWT_ISSUER": ISSUER,
            "JWT_AUDIENCE": AUDIENCE,
            "JWT_JWKS_URL": f"{self.url('idp')}/.well-known/jwks.json",
            "JWT_ALGORITHMS": "RS256",
            "CORS_ORIGINS": "",
            # The limiter stays in the path (its cost is part of the gateway's), with a
            # bucket no bench phase can empty: one dashboard weighs its document cost.
            "RATE_LIMIT_CAPACITY": "1000000",
            "RATE_LIMIT_REFILL_PER_SECOND": "1000000",
        }
        if self.database is not None:
            env["DATABASE_URL"] = self.database.sqlalchemy_url
        return env

    def migrate(self) -> None:
        subprocess.run(  # noqa: S603 - fixed argv
            [python(), "-m", "app", "migrate"],
            env={**_os_environ(), **self.environment()},
            check=True,
            capture_output=True,
        )

    def start_gateway(self, workers: int, extra_env: dict[str, str] | None = None) -> Server:
        port = free_port()
        extra_env = extra_env or {}
        # A variant (bench/gateway_app.py) is the same app built with other levers.
        target = (
            ["--factory", "bench.gateway_app:app_factory"]
            if any(name.startswith("BENCH_GATEWAY_") for name in extra_env)
            else ["app.main:app"]
        )
        argv = [*_uvicorn(target, port), "--workers", str(workers)]
        cpus = self.cpus.app if workers == 1 else self.cpus.all
        child = self.processes.start(
            f"gateway-{workers}w", argv, env={**self.environment(), **extra_env}, cpus=cpus
        )
        wait_ready(f"http://{HOST}:{port}/healthz", [child])
        return Server(f"gateway-{workers}w", child, port, workers)

    def start_baseline(self) -> Server:
        port = free_port()
        argv = _uvicorn(["--factory", "bench.baseline:app_factory"], port)
        child = self.processes.start("baseline", argv, env=self.environment(), cpus=self.cpus.app)
        wait_ready(f"http://{HOST}:{port}/healthz", [child])
        return Server("baseline", child, port, 1)

    def start_peer(self) -> Server:
        """The Apollo peer (bench/peers/apollo/): one Node process, production mode, on the
        gateway's CPU with the gateway's settings."""
        port = free_port()
        node = shutil.which("node")
        if node is None:
            raise StartupError("node is not installed: the Apollo peer cannot run")
        env = {**self.environment(), "NODE_ENV": "production", "HOST": HOST, "PORT": str(port)}
        child = self.processes.start(
            peer.NAME, [node, str(peer.ROOT / "server.mjs")], env=env, cpus=self.cpus.app
        )
        # Apollo answers a GET without a query with 400 (CSRF prevention): it is up.
        wait_ready(f"http://{HOST}:{port}/graphql", [child])
        return Server(peer.NAME, child, port, 1)

    # -- sandbox admin ------------------------------------------------------------------

    def _admin(self, service: str, method: str, path: str, body: Any = None) -> Any:
        token = INVOICING_TOKEN if service == "invoicing" else PAYMENTS_TOKEN
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - loopback URL
            f"{self.url(service)}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            raw = answer.read()
        return json.loads(raw) if raw else None

    def reset_calls(self) -> None:
        for service in self.sandboxes:
            self._admin(service, "DELETE", "/_sandbox/calls")

    def calls(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for service in self.sandboxes:
            found.extend(self._admin(service, "GET", "/_sandbox/calls")["data"])
        return found

    def set_latency(self, latency_ms: int) -> None:
        for service in self.sandboxes:
            self._admin(service, "PUT", "/_sandbox/faults", {"latency_ms": latency_ms})

    def create_payable_invoices(self, count: int) -> list[str]:
        """Open INR invoices of the Indian demo business, each good for many 0.01 payments.
        Not the GB business: the read scenarios' pages must keep the seed's invoices."""
        self.set_latency(0)
        try:
            created: list[str] = []
            for n in range(count):
                invoice = self._write(
                    "/v1/invoices",
                    {
                        "business_id": IN_BUSINESS_ID,
                        "customer_id": IN_CUSTOMER_ID,
                        "currency": "INR",
                        "due_date": "2030-12-31",
                        "tax_rate_bps": 0,
                        "lines": [
                            {"description": "Bench", "quantity": 1, "unit_amount": 10_000_000}
                        ],
                    },
                    f"bench-create-{n}",
                )
                self._write(f"/v1/invoices/{invoice['id']}/finalize", {}, f"bench-finalize-{n}")
                created.append(invoice["id"])
            return created
        finally:
            self.set_latency(self.latency_ms)
            self.reset_calls()

    def _write(self, path: str, body: dict[str, Any], key: str) -> Any:
        request = urllib.request.Request(  # noqa: S310 - loopback URL
            f"{self.url('invoicing')}{path}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {INVOICING_TOKEN}",
                "Content-Type": "application/json",
                "X-Actor-Id": "bench",
                "Idempotency-Key": key,
            },
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return json.loads(answer.read())


def _os_environ() -> dict[str, str]:
    import os

    return dict(os.environ)


def _uvicorn(target: list[str], port: int) -> list[str]:
    """Gateway and baseline are served alike: uvloop, httptools, no access log."""
    return [
        python(),
        "-m",
        "uvicorn",
        *target,
        "--host",
        HOST,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def side_stack(prefix: str, latency_ms: int = 5) -> Iterator[Stack]:
    """What bench.ab, bench.soak and bench.profile stand on: a throwaway migrated database
    and the sandboxes (cached GETs); every process stopped and everything removed after,
    a signal included. Gateways are theirs to start."""
    work_dir = Path(tempfile.mkdtemp(prefix=prefix))
    processes = Processes(work_dir)
    database = Database(LOCAL_POSTGRES)
    with stopped_on_signals():
        try:
            database.create()
            stack = Stack(processes, work_dir, Cpus("0", "1", "0-1"), latency_ms, cache=True)
            stack.database = database
            stack.start_downstreams()
            stack.migrate()
            yield stack
        finally:
            stop_load()
            processes.stop_all()
            database.drop()
            shutil.rmtree(work_dir, ignore_errors=True)
