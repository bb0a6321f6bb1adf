"""What the local cluster is made of: its ports, and how each gateway process is run.

The gateways are run as the image runs them (the Dockerfile's CMD: uvicorn with uvloop,
the guarded httptools protocol, proxy headers, no server header, no access log), bound to
loopback, and with production settings (APP_ENV=production): every start-up guard of
app/core/settings.py applies. That is why nothing here is the development default: the
identity provider's issuer is not the development one, the sandboxes run on ports and with
tokens of the cluster's own, and /metrics needs a token.

Ports: the load balancer on `lb` (default 8800), its statistics page on lb+9, gateways on
lb+1 .. lb+N, the identity provider and the two sandboxes on lb+10 .. lb+12; none clashes
with `make run` (8000, 8100 to 8102). Port 0 picks every port from the kernel instead (a
cluster beside another one; tests).
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from app.serve.guard import UVICORN_HTTP

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
ISSUER = "https://id.cluster.example/"
AUDIENCE = "fintech-gateway"
# The cluster's own service tokens: production refuses the public sandbox ones.
INVOICING_TOKEN = "cluster-invoicing-token"  # noqa: S105 - a local cluster's own value
PAYMENTS_TOKEN = "cluster-payments-token"  # noqa: S105 - a local cluster's own value
# The gateway's deadline; the load balancer's server timeout is set a little above it, so
# that the gateway's own typed answer reaches the client rather than the balancer's 504.
REQUEST_TIMEOUT_SECONDS = 10
DEFAULT_LB_PORT = 8800
MAX_GATEWAYS = 8


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((HOST, port)) != 0


@dataclass(frozen=True)
class Ports:
    lb: int
    stats: int
    gateways: tuple[int, ...]
    idp: int
    invoicing: int
    payments: int

    @classmethod
    def plan(cls, lb: int, gateways: int) -> Ports:
        if not 1 <= gateways <= MAX_GATEWAYS:
            raise ValueError(f"--gateways: 1 to {MAX_GATEWAYS}")
        if lb == 0:
            return cls(
                free_port(),
                free_port(),
                tuple(free_port() for _ in range(gateways)),
                free_port(),
                free_port(),
                free_port(),
            )
        if not 1024 <= lb <= 65535 - 12:
            raise ValueError("--port: 0, or 1024 to 65523 (the cluster uses port .. port+12)")
        return cls(
            lb, lb + 9, tuple(lb + n for n in range(1, gateways + 1)), lb + 10, lb + 11, lb + 12
        )

    def all(self) -> list[int]:
        return [self.lb, self.stats, *self.gateways, self.idp, self.invoicing, self.payments]

    def busy(self) -> list[int]:
        return [port for port in self.all() if not port_free(port)]


@dataclass(frozen=True)
class Backing:
    """The shared services the gateways stand on, which the cluster uses but never starts
    or stops: they are the machine's (`.ci/run` starts them in CI)."""

    database_url: str  # postgresql+asyncpg://... of the cluster's own database
    redis_url: str
    amqp_url: str
    # Rate-limit buckets of this run only: a run never inherits an earlier run's.
    rate_limit_key_prefix: str


def url(port: int) -> str:
    return f"http://{HOST}:{port}"


def gateway_argv(port: int) -> list[str]:
    """The Dockerfile's CMD on loopback: forwarded headers are believed from the load
    balancer only (127.0.0.1, uvicorn's --forwarded-allow-ips, as TRUSTED_PROXIES)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        UVICORN_HTTP,
        "--proxy-headers",
        "--no-server-header",
        "--no-access-log",
        "--forwarded-allow-ips",
        HOST,
    ]


def new_metrics_token() -> str:
    return secrets.token_urlsafe(24)


def gateway_environment(ports: Ports, backing: Backing, metrics_token: str) -> dict[str, str]:
    """Production settings for every gateway process alike (they are replicas)."""
    return {
        "APP_ENV": "production",
        "DATABASE_URL": backing.database_url,
        "INVOICING_URL": url(ports.invoicing),
        "INVOICING_TOKEN": INVOICING_TOKEN,
        "PAYMENTS_URL": url(ports.payments),
        "PAYMENTS_TOKEN": PAYMENTS_TOKEN,
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        "JWT_JWKS_URL": f"{url(ports.idp)}/.well-known/jwks.json",
        "JWT_ALGORITHMS": "RS256",
        "REQUEST_TIMEOUT_SECONDS": str(REQUEST_TIMEOUT_SECONDS),
        "REDIS_URL": backing.redis_url,
        "RATE_LIMIT_KEY_PREFIX": backing.rate_limit_key_prefix,
        "AMQP_URL": backing.amqp_url,
        "METRICS_TOKEN": metrics_token,
        "TRUSTED_PROXIES": HOST,
        **python_path(),
    }


def python_path() -> dict[str, str]:
    """This checkout first on the children's path, whatever directory we were run from."""
    existing = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), existing]))}


def sandbox_argv(service: str, port: int, token: str, db: Path, latency_ms: int) -> list[str]:
    # The admin surface (/_sandbox/: faults, calls, settling) stays on, behind the
    # cluster's own service token: a chaos run injects its faults there.
    return [
        sys.executable,
        "-m",
        "sandbox",
        service,
        "--host",
        HOST,
        "--port",
        str(port),
        "--token",
        token,
        "--db",
        str(db),
        "--latency-ms",
        str(latency_ms),
    ]


def idp_argv(port: int, key: Path) -> list[str]:
    return [sys.executable, "-m", "bench.idp_server", "--port", str(port), "--key", str(key)]
