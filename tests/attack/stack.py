"""The gateway as the image serves it (the Dockerfile's command: uvloop, the serving guard,
production settings) on a free loopback port, in front of real sandbox services and an
identity provider (tests/mutations/processes.py), each a process, always stopped."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth.principal import Role
from app.db import migrate
from app.db.engine import create_engine
from sandbox.devkeys import mint_token
from tests.mutations.processes import (
    Processes,
    clean_environment,
    free_port,
    start_services,
    wait_ready,
)
from tests.test_served_app import dockerfile_command, on_loopback

ISSUER = "https://id.attack.test/"
AUDIENCE = "fintech-gateway"


@dataclass(frozen=True)
class Gateway:
    port: int
    signing_key: rsa.RSAPrivateKey
    processes: Processes

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, subject: str, memberships: list[tuple[str, Role]]) -> str:
        return mint_token(
            self.signing_key,
            issuer=ISSUER,
            audience=AUDIENCE,
            subject=subject,
            memberships=memberships,
        )


@contextlib.asynccontextmanager
async def image_gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)  # production never migrates on start
    finally:
        await engine.dispose()
    processes = Processes(tmp_path)
    try:
        services = await start_services(
            processes,
            tmp_path,
            database_url=database_url,
            issuer=ISSUER,
            audience=AUDIENCE,
            invoicing_token="attack-invoicing-token",
            payments_token="attack-payments-token",
        )
        port = free_port()
        command = on_loopback(dockerfile_command(), port)
        # (spawn runs this interpreter itself; the image's access log stays off)
        gateway = await processes.spawn(
            "gateway", command[1:], clean_environment(**services.settings)
        )
        await wait_ready(gateway, f"http://127.0.0.1:{port}/readyz")
        yield Gateway(port, services.signing_key, processes)
    finally:
        await processes.stop_all()
