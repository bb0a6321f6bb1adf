"""PostgreSQL, Redis and RabbitMQ of a chaos run's own, on free loopback ports in a temp dir.

The chaos run restarts PostgreSQL and takes Redis and RabbitMQ down for 30 s each. The
machine's instances are shared (`make test`, CI, other stacks), so the run never touches
them: it starts its own from the Debian packages' binaries, each in its own process group
and owned by this harness, and stops them at the end, whatever way the run ends.

- PostgreSQL: `initdb` then `postgres` in the foreground, as the `postgres` user when run
  as root (the server refuses root), trust on loopback only, fsync off (a throwaway
  cluster: the restart it undergoes is a clean or immediate one, not a power cut).
- Redis: `redis-server --port N --save ''` (no snapshot: rate-limit buckets only).
- RabbitMQ: `rabbitmq-server` with a node name, AMQP and distribution ports, and data and
  log directories of its own (as the `rabbitmq` user when run as root). Measured on the
  2-core machine: ready in 5 to 7 s, stopped (SIGTERM) in 2 s. It registers its name with
  the machine's epmd, which the shared broker uses too; a distinct node name keeps them
  apart. Its data directory survives a stop, so the durable exchange, the run's queue and
  its persistent messages come back with it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import Child, Processes, free_port

HOST = "127.0.0.1"
READY_SECONDS = 60.0


class PrivateError(RuntimeError):
    """A private instance would not start; the message says which and why."""


def _as_user(user: str) -> list[str]:
    """Prefix to run a server as `user` when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", user, "--"]


def _chown(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        for root, dirs, files in os.walk(path):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                os.chown(name, entry.pw_uid, entry.pw_gid)


def wait_port(port: int, child: Child, seconds: float = READY_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not child.alive():
            raise PrivateError(f"{child.name} exited while starting:\n{child.tail()}")
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise PrivateError(f"{child.name} not listening on {port} after {seconds:.0f}s")


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise PrivateError("no /usr/lib/postgresql/*/bin/initdb: install Debian's postgresql")
    return Path(found[-1]).parent


@dataclass
class Private:
    """The three servers; `start_*` and `stop_*` are what the faults call."""

    root: Path
    processes: Processes
    pg_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    amqp_port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    node: str = field(default_factory=lambda: f"chaos{uuid.uuid4().hex[:8]}@localhost")
    children: dict[str, Child] = field(default_factory=dict)

    @property
    def postgres_url(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.pg_port}/postgres"

    @property
    def redis_url(self) -> str:
        return f"redis://{HOST}:{self.redis_port}/0"

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@{HOST}:{self.amqp_port}/"

    # PostgreSQL ----------------------------------------------------------------------
    def init_postgres(self) -> None:
        data = self.root / "pg"
        data.mkdir(parents=True)
        _chown(self.root / "pg", "postgres")
        finished = subprocess.run(
            [
                *_as_user("postgres"),
                str(postgres_bin() / "initdb"),
                *("-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if finished.returncode != 0:
            raise PrivateError(f"initdb failed:\n{finished.stderr[-2000:]}")

    def start_postgres(self) -> None:
        argv = [*_as_user("postgres"), str(postgres_bin() / "postgres"), "-D"]
        argv += [str(self.root / "pg"), "-p", str(self.pg_port), "-k", str(self.root / "pg")]
        argv += ["-c", f"listen_addresses={HOST}", "-c", "fsync=off", "-c", "max_connections=200"]
        self.children["postgres"] = child = self.processes.start("postgres", argv)
        wait_port(self.pg_port, child)

    def stop_postgres(self) -> None:
        # SIGINT: PostgreSQL's fast shutdown (every session cut, as a failover does).
        self._stop("postgres", signal_number=2)

    # Redis ---------------------------------------------------------------------------
    def start_redis(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        argv = [binary, "--bind", HOST, "--port", str(self.redis_port), "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.root)]
        self.children["redis"] = child = self.processes.start("redis", argv)
        wait_port(self.redis_port, child)

    def stop_redis(self) -> None:
        self._stop("redis")

    # RabbitMQ ------------------------------------------------------------------------
    def _rabbit_env(self) -> dict[str, str]:
        base = self.root / "rabbitmq"
        return {
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": HOST,
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            # Not the machine's /etc/rabbitmq/rabbitmq.conf, which binds the shared port.
            "RABBITMQ_CONFIG_FILE": str(base / "none"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "plugins"),
            "RABBITMQ_PID_FILE": str(base / "pid"),
            "HOME": "/var/lib/rabbitmq" if os.geteuid() == 0 else os.environ.get("HOME", ""),
        }

    def start_rabbitmq(self) -> None:
        base = self.root / "rabbitmq"
        if not base.exists():
            (base / "mnesia").mkdir(parents=True)
            (base / "log").mkdir()
            _chown(base, "rabbitmq")
        # The packaged wrapper (/usr/sbin) su's into a session of its own, out of reach of
        # our process group; the real script, run as the user directly, stays in it.
        script = "/usr/lib/rabbitmq/bin/rabbitmq-server"
        if not Path(script).exists():
            raise PrivateError(f"{script} not found: install Debian's rabbitmq-server")
        argv = [*_as_user("rabbitmq"), script]
        self.children["rabbitmq"] = child = self.processes.start(
            "rabbitmq", argv, env=self._rabbit_env()
        )
        wait_port(self.amqp_port, child, seconds=90)

    def stop_rabbitmq(self) -> None:
        self._stop("rabbitmq")

    # ---------------------------------------------------------------------------------
    def _stop(self, name: str, signal_number: int = 15) -> None:
        child = self.children.pop(name, None)
        if child is None:
            return
        if signal_number != 15 and child.alive():
            os.killpg(child.pid, signal_number)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=20)
        self.processes.stop(child, timeout=20)

    def start_all(self) -> None:
        self.init_postgres()
        self.start_postgres()
        self.start_redis()
        self.start_rabbitmq()

    def stop_all(self) -> None:
        for name in ("rabbitmq", "redis", "postgres"):
            self._stop(name, signal_number=2 if name == "postgres" else 15)
