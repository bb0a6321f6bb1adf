"""`make cluster`: a production-like topology on this machine, in the foreground.

    python -m deploy.local.cluster [--port 8800] [--gateways 3] [--latency-ms 5]
        [--database cluster] [--postgres URL] [--redis-url URL] [--amqp-url URL] [--check]

HAProxy (Debian's package) balances round robin over N gateway processes, each served as
the image serves it and with production settings (deploy/local/topology.py), on the
machine's PostgreSQL (a database of the cluster's own, recreated and migrated once at
start), Redis (shared rate limits) and RabbitMQ (domain events). Behind them: the
development identity provider's JWKS (with an issuer of the cluster's own) and both
sandbox services, answering after 5 ms as a nearby real service would.

It starts everything, waits until the balancer sees every gateway ready, prints where
everything is, and on Ctrl-C or SIGTERM stops every process it started, and only those
(each in its own process group). PostgreSQL, Redis and RabbitMQ are not its to start or
stop. The database is kept after a stop, for a look at it, and recreated at the next start.

--check starts it, sends a few requests through the balancer (deploy/local/check.py),
verifies that every gateway served some, stops it and drops its database: exit status 0
when all held. Logs of each process are in the run directory (var/cluster by default).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from bench.procs import Child, Processes, StartupError, stopped_on_signals, wait_ready
from deploy.local import backing, haproxy
from deploy.local.banner import demo_tokens, print_banner
from deploy.local.topology import (
    DEFAULT_LB_PORT,
    INVOICING_TOKEN,
    PAYMENTS_TOKEN,
    REPO_ROOT,
    Backing,
    Ports,
    gateway_argv,
    gateway_environment,
    idp_argv,
    new_metrics_token,
    sandbox_argv,
    url,
)
from sandbox.devkeys import load_or_create_private_key

READY_TIMEOUT_SECONDS = 90


@dataclass(frozen=True)
class Options:
    port: int
    gateways: int
    latency_ms: int
    database: str
    postgres: str
    redis_url: str
    amqp_url: str
    haproxy: str | None
    run_dir: Path | None
    check: bool
    # Settings every gateway gets on top of the production ones (a chaos run shortens
    # the settler's and relay's waits so that a run ends in minutes).
    gateway_settings: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Running:
    """Where everything is, once started: what the banner and the check read."""

    ports: Ports
    backing: Backing
    database_name: str
    metrics_token: str
    tokens: dict[str, str]
    children: list[Child]
    run_dir: Path
    latency_ms: int
    # Owns every child: a chaos run kills a gateway and starts it again through it.
    processes: Processes | None = None
    gateway_settings: Mapping[str, str] = field(default_factory=dict)


class ClusterError(RuntimeError):
    """The cluster cannot start; the message says why (nothing is left running)."""


def _preflight(options: Options, ports: Ports) -> str:
    binary = haproxy.find_haproxy(options.haproxy)
    if binary is None:
        raise ClusterError(
            f"haproxy not found ({options.haproxy or 'haproxy on PATH or /usr/sbin'}):"
            " install Debian's package, `sudo apt-get install haproxy`"
        )
    busy = ports.busy()
    if busy:
        raise ClusterError(f"port(s) {busy} on 127.0.0.1 are in use; stop what holds them")
    try:
        backing.check_redis(options.redis_url)
        backing.check_amqp(options.amqp_url)
    except backing.BackingError as exc:
        raise ClusterError(str(exc)) from None
    return binary


@contextlib.contextmanager
def cluster(options: Options) -> Iterator[Running]:
    """Everything started and ready for the duration of the block, then stopped (an
    error, Ctrl-C or SIGTERM included)."""
    try:
        ports = Ports.plan(options.port, options.gateways)
        _, database_url = backing.database_urls(options.postgres, options.database)
    except (ValueError, backing.BackingError) as exc:
        raise ClusterError(str(exc)) from None
    binary = _preflight(options, ports)
    run_dir, temporary = _run_dir(options)
    processes = Processes(run_dir)
    created = False
    try:
        backing.recreate_database(options.postgres, options.database)
        created = True
        backing.migrate(database_url)
        running = Running(
            ports=ports,
            backing=Backing(
                database_url=database_url,
                redis_url=options.redis_url,
                amqp_url=options.amqp_url,
                rate_limit_key_prefix=f"cluster:{uuid.uuid4().hex[:12]}:ratelimit:",
            ),
            database_name=options.database,
            metrics_token=new_metrics_token(),
            tokens={},
            children=processes.children,
            run_dir=run_dir,
            latency_ms=options.latency_ms,
            processes=processes,
            gateway_settings=options.gateway_settings,
        )
        running.tokens = demo_tokens(_start_downstreams(processes, running))
        _start_gateways(processes, running)
        _start_balancer(processes, running, binary)
        yield running
    except (backing.BackingError, StartupError) as exc:
        raise ClusterError(str(exc)) from None
    finally:
        processes.stop_all()
        if created and options.check:
            backing.drop_database(options.postgres, options.database)
        if temporary:
            shutil.rmtree(run_dir, ignore_errors=True)


def _run_dir(options: Options) -> tuple[Path, bool]:
    if options.run_dir is None:
        return Path(tempfile.mkdtemp(prefix="cluster-")), True
    run_dir = options.run_dir.resolve()
    # A fresh world each start: logs and sandbox databases of an earlier run go.
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    return run_dir, False


def _start_downstreams(processes: Processes, running: Running) -> rsa.RSAPrivateKey:
    ports, run_dir = running.ports, running.run_dir
    key_path = run_dir / "jwt-key.pem"
    private_key = load_or_create_private_key(key_path)
    idp = processes.start("idp", idp_argv(ports.idp, key_path))
    children = [idp]
    for service, port, token in (
        ("invoicing", ports.invoicing, INVOICING_TOKEN),
        ("payments", ports.payments, PAYMENTS_TOKEN),
    ):
        argv = sandbox_argv(
            service, port, token, run_dir / f"sandbox-{service}.db", running.latency_ms
        )
        children.append(processes.start(f"sandbox-{service}", argv))
    wait_ready(f"{url(ports.idp)}/.well-known/jwks.json", children, READY_TIMEOUT_SECONDS)
    for port in (ports.invoicing, ports.payments):
        # 401 without the token: it answers, which is all start-up needs.
        wait_ready(f"{url(port)}/_sandbox/calls", children, READY_TIMEOUT_SECONDS)
    return private_key


def start_gateway(processes: Processes, running: Running, index: int) -> Child:
    """Gateway `index` (0-based) as a new process; not waited for."""
    environment = {
        **gateway_environment(running.ports, running.backing, running.metrics_token),
        **running.gateway_settings,
    }
    port = running.ports.gateways[index]
    return processes.start(haproxy.server_name(index), gateway_argv(port), env=environment)


def _start_gateways(processes: Processes, running: Running) -> None:
    gateways = [start_gateway(processes, running, i) for i in range(len(running.ports.gateways))]
    for port in running.ports.gateways:
        wait_ready(f"{url(port)}/readyz", gateways, READY_TIMEOUT_SECONDS)


def _start_balancer(processes: Processes, running: Running, binary: str) -> None:
    ports = running.ports
    config = running.run_dir / "haproxy.cfg"
    config.write_text(haproxy.render_config(ports.lb, ports.stats, ports.gateways))
    child = processes.start("haproxy", haproxy.haproxy_argv(binary, str(config)))
    expected = {haproxy.server_name(i) for i in range(len(ports.gateways))}
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        if not child.alive():
            raise StartupError(f"haproxy exited during start-up:\n{child.tail()}")
        with contextlib.suppress(OSError, urllib.error.URLError):
            states = haproxy.server_states(ports.stats)
            if set(states) == expected and all(s == "UP" for s in states.values()):
                return
        time.sleep(0.25)
    raise StartupError(f"the balancer does not see every gateway UP: {states}")


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local.cluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    environ = os.environ
    parser.add_argument(
        "--port",
        type=int,
        default=int(environ.get("CLUSTER_PORT") or DEFAULT_LB_PORT),
        help="the balancer's port; the rest follow it (0: any free ports)",
    )
    parser.add_argument("--gateways", type=int, default=3)
    parser.add_argument("--latency-ms", type=int, default=5, help="each sandbox call's delay")
    parser.add_argument(
        "--database",
        help="recreated at each start (default `cluster`; --check: a database of its own)",
    )
    parser.add_argument(
        "--postgres",
        default=environ.get(
            "CLUSTER_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="an existing database on the server, to create the cluster's from",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--haproxy", help="the haproxy binary (default: from PATH or /usr/sbin)")
    parser.add_argument(
        "--run-dir", type=Path, help="logs and sandbox data (default var/cluster; --check: a temp)"
    )
    parser.add_argument("--check", action="store_true", help="start, verify, stop")
    args = parser.parse_args(argv)
    if args.latency_ms < 0:
        parser.error("--latency-ms: must be >= 0")
    run_dir = args.run_dir
    # A check never touches the database of a cluster someone is using: its own, dropped.
    database = args.database or (
        f"cluster_check_{uuid.uuid4().hex[:8]}" if args.check else "cluster"
    )
    if run_dir is None and not args.check:
        run_dir = REPO_ROOT / "var" / "cluster"
    return Options(
        port=args.port,
        gateways=args.gateways,
        latency_ms=args.latency_ms,
        database=database,
        postgres=args.postgres,
        redis_url=args.redis_url,
        amqp_url=args.amqp_url,
        haproxy=args.haproxy,
        run_dir=run_dir,
        check=args.check,
    )


def _serve(running: Running) -> int:
    print_banner(running)
    while True:
        for child in running.children:
            if not child.alive():
                print(f"{child.name} stopped unexpectedly:\n{child.tail()}\nstopping everything")
                return 1
        time.sleep(0.5)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    # Imported here: the check's HTTP client is not needed to serve.
    from deploy.local.check import run_check

    with stopped_on_signals():
        try:
            with cluster(options) as running:
                if not options.check:
                    return _serve(running)
                started = ", ".join(f"{c.name} {c.pid}" for c in running.children)
                print(f"started (pids): {started}", flush=True)
                return run_check(running)
        except ClusterError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 0
        finally:
            print("stopped everything the cluster started", flush=True)


if __name__ == "__main__":
    sys.exit(main())
