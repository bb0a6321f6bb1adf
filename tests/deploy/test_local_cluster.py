"""`make cluster` (deploy/local/): a production-like topology on one machine.

The whole cluster is started twice, for real (HAProxy, three gateways with production
settings, the machine's PostgreSQL, Redis and RabbitMQ): once by its own `--check`, which
must pass and leave nothing running, and once in the foreground, which must stop every
process it started on SIGTERM. The rest proves the pieces it is made of, and the ways it
refuses to start, without starting anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from app.core.settings import load_settings
from deploy.local import backing
from deploy.local.check import address_findings, payment_findings, unserved
from deploy.local.cluster import main
from deploy.local.haproxy import render_config
from deploy.local.topology import (
    REQUEST_TIMEOUT_SECONDS,
    Backing,
    Ports,
    gateway_argv,
    gateway_environment,
)
from tests.paths import REPO_ROOT
from tests.test_served_app import dockerfile_command

MAKE_RUN_PORTS = {8000, 8100, 8101, 8102}
CLUSTER = [sys.executable, "-m", "deploy.local.cluster"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _started_pids(output: str) -> dict[str, int]:
    line = next(line for line in output.splitlines() if line.startswith("started (pids): "))
    pairs = line.removeprefix("started (pids): ").split(", ")
    return {name: int(pid) for name, pid in (pair.rsplit(" ", 1) for pair in pairs)}


async def _database_exists(admin_url: str, name: str) -> bool:
    connection = await asyncpg.connect(admin_url.replace("+asyncpg", "", 1))
    try:
        found: object = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", name
        )
    finally:
        await connection.close()
    return found == 1


def _backing_arguments(postgres: str, redis_url: str, amqp_url: str) -> list[str]:
    return ["--postgres", postgres, "--redis-url", redis_url, "--amqp-url", amqp_url]


# -- the pieces ---------------------------------------------------------------------------


def test_each_gateway_is_served_as_the_image_serves_it_behind_the_balancer() -> None:
    # given the image's command
    image = dockerfile_command()

    # when the cluster builds a gateway's
    argv = gateway_argv(8801)

    # then it is the same, on loopback, believing forwarded headers from the balancer only
    assert argv[:3] == [sys.executable, "-m", "uvicorn"]
    expected = list(image)
    expected[expected.index("--host") + 1] = "127.0.0.1"
    expected[expected.index("--port") + 1] = "8801"
    assert argv[2:] == [*expected, "--forwarded-allow-ips", "127.0.0.1"]


def test_the_gateways_settings_pass_every_production_guard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given the environment the cluster gives each gateway
    ports = Ports.plan(8800, 3)
    shared = Backing(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:5432/cluster",
        redis_url="redis://127.0.0.1:6379/0",
        amqp_url="amqp://guest:guest@127.0.0.1:5672/",
        rate_limit_key_prefix="cluster:test:ratelimit:",
    )
    environment = gateway_environment(ports, shared, "a-metrics-token")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    # when the gateway's settings are loaded from it
    settings = load_settings()

    # then they are production settings, refused by none of the start-up guards
    assert settings.app_env == "production"
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.trusted_proxies == ("127.0.0.1",)
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.metrics_token is not None


def test_the_default_ports_do_not_clash_with_make_run() -> None:
    ports = Ports.plan(8800, 3)
    assert ports.all() == [8800, 8809, 8801, 8802, 8803, 8810, 8811, 8812]
    assert not MAKE_RUN_PORTS & set(ports.all())
    assert len(set(Ports.plan(0, 3).all())) == 8


@pytest.mark.parametrize(
    ("port", "gateways", "named"),
    [(8800, 0, "--gateways"), (8800, 9, "--gateways"), (80, 3, "--port"), (65530, 3, "--port")],
)
def test_a_plan_out_of_range_is_refused(port: int, gateways: int, named: str) -> None:
    with pytest.raises(ValueError, match=f"^{named}: "):
        Ports.plan(port, gateways)


def test_the_balancer_configuration_is_valid_and_says_what_the_cluster_promises(
    haproxy_binary: str, tmp_path: Path
) -> None:
    # given the configuration for three gateways
    text = render_config(18800, 18809, [18801, 18802, 18803])
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)

    # when haproxy checks it
    checked = subprocess.run(  # noqa: S603 - the haproxy binary, a file written here
        [haproxy_binary, "-c", "-f", str(config)], capture_output=True, text=True, check=False
    )

    # then it is valid: round robin over the three, each health-checked on /readyz
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lines = [line.strip() for line in text.splitlines()]
    assert "balance roundrobin" in lines
    assert "http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1" in lines
    assert [line for line in lines if line.startswith("server ")] == [
        f"server gateway-{n} 127.0.0.1:1880{n}" for n in (1, 2, 3)
    ]
    # a client's own X-Forwarded-For is dropped before the balancer writes its own
    assert lines.index("http-request del-header X-Forwarded-For") < lines.index("option forwardfor")
    # and the balancer outwaits the gateway's deadline, to pass its typed answer on
    [server_timeout] = re.findall(r"^\s*timeout server (\d+)s$", text, re.M)
    assert int(server_timeout) > REQUEST_TIMEOUT_SECONDS


def test_it_refuses_to_start_without_haproxy_and_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["--check", "--port", "0", "--haproxy", "/nonexistent/haproxy"])

    assert status == 1
    error = capsys.readouterr().err
    assert "error: haproxy not found (/nonexistent/haproxy)" in error
    assert "apt-get install haproxy" in error


@contextlib.contextmanager
def held_port_with_room_above() -> Iterator[int]:
    """A port held by a listener, low enough for the cluster's 12 ports above it."""
    for _ in range(50):
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port: int = holder.getsockname()[1]
            if port <= 65535 - 12:
                yield port
                return
    raise AssertionError("no free port with room above it in 50 tries")


def test_it_refuses_to_start_on_a_busy_port_naming_it(
    haproxy_binary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with held_port_with_room_above() as port:
        status = main(["--check", "--port", str(port)])

    assert status == 1
    assert f"error: port(s) [{port}] on 127.0.0.1 are in use" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("admin", "name", "message"),
    [
        ("postgresql://postgres@127.0.0.1/postgres", "Cluster; DROP", "--database"),
        ("mysql://root@127.0.0.1/x", "cluster", "--postgres"),
    ],
)
def test_a_bad_database_name_or_server_is_refused(admin: str, name: str, message: str) -> None:
    with pytest.raises(backing.BackingError, match=message):
        backing.database_urls(admin, name)


# -- what the check holds against the cluster ---------------------------------------------

PAYMENT = {"id": "pay_1", "status": "SUCCEEDED"}


def _pay(payment: object, replayed: bool, errors: list[object] | None = None) -> tuple[int, Any]:
    outcome = {"payment": payment, "userErrors": errors or [], "replayed": replayed}
    return 200, {"data": {"payInvoice": outcome}}


def test_a_payment_taken_once_and_replayed_on_retry_passes() -> None:
    assert payment_findings(_pay(PAYMENT, False), _pay(PAYMENT, True)) == []


@pytest.mark.parametrize(
    ("first", "retry", "found"),
    [
        # the retry ran again (another gateway without the shared idempotency store)
        (_pay(PAYMENT, False), _pay({"id": "pay_2", "status": "SUCCEEDED"}, False), ["retried"]),
        (_pay(PAYMENT, False), _pay(PAYMENT, False), ["retried"]),
        (_pay(None, False, [{"code": "PAYMENT_PENDING"}]), _pay(None, True), ["payInvoice: "]),
        ((502, {"message": "bad gateway"}), _pay(PAYMENT, True), ["payInvoice: ", "retried"]),
    ],
)
def test_a_payment_not_taken_or_taken_twice_is_a_finding(
    first: tuple[int, Any], retry: tuple[int, Any], found: list[str]
) -> None:
    findings = payment_findings(first, retry)
    assert len(findings) == len(found)
    for finding, expected in zip(findings, found, strict=True):
        assert expected in finding


def test_a_gateway_that_served_nothing_is_a_finding() -> None:
    assert unserved((8801, 8802, 8803), [3, 3, 3]) == []
    assert unserved((8801, 8802, 8803), [5, 0, 4]) == [
        "the gateway on 8802 served no GraphQL request"
    ]


def test_rate_limits_counted_by_a_forged_address_or_not_in_redis_are_findings() -> None:
    assert address_findings(["ip:127.0.0.1", "sub:cluster_owner"]) == []
    assert address_findings(["ip:127.0.0.1", "ip:203.0.113.9"]) == [
        "a forged X-Forwarded-For was believed: ['ip:127.0.0.1', 'ip:203.0.113.9']"
    ]
    assert address_findings([]) == [
        "no shared rate-limit bucket for the client 127.0.0.1 in Redis: []"
    ]


# -- the whole cluster, for real ----------------------------------------------------------


@pytest.mark.postgres
def test_the_check_passes_through_the_balancer_and_leaves_nothing_running(
    haproxy_binary: str, postgres_server_url: str, redis_server_url: str, rabbitmq_server_url: str
) -> None:
    # when the cluster checks itself on ports of its own
    arguments = ["--check", "--port", "0"]
    arguments += _backing_arguments(postgres_server_url, redis_server_url, rabbitmq_server_url)
    finished = subprocess.run(  # noqa: S603 - this interpreter, arguments built here
        [*CLUSTER, *arguments], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )

    # then every gateway served requests through the balancer, and all held
    output = finished.stdout
    assert finished.returncode == 0, output + finished.stderr
    assert re.search(r"check passed: requests served per gateway: \[\d+, \d+, \d+\]", output)
    assert "FAIL" not in output
    # and every process it started is gone
    pids = _started_pids(output)
    assert set(pids) == {
        "idp",
        "sandbox-invoicing",
        "sandbox-payments",
        "gateway-1",
        "gateway-2",
        "gateway-3",
        "haproxy",
    }
    assert [name for name, pid in pids.items() if _alive(pid)] == []


@pytest.fixture
def cluster_database(postgres_server_url: str) -> Iterator[str]:
    name = f"cluster_test_{uuid.uuid4().hex[:8]}"
    yield name
    backing.drop_database(postgres_server_url, name)


@pytest.mark.postgres
def test_sigterm_stops_every_process_it_started_and_keeps_its_database(
    haproxy_binary: str,
    postgres_server_url: str,
    redis_server_url: str,
    rabbitmq_server_url: str,
    cluster_database: str,
    tmp_path: Path,
) -> None:
    # given a cluster running in the foreground, its banner printed
    arguments = ["--port", "0", "--database", cluster_database, "--run-dir", str(tmp_path)]
    arguments += _backing_arguments(postgres_server_url, redis_server_url, rabbitmq_server_url)
    process = subprocess.Popen(  # noqa: S603 - this interpreter, arguments built here
        [*CLUSTER, *arguments], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    banner: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "the cluster exited before its banner:\n" + "".join(banner)
            banner.append(line)
            if line.startswith("Ctrl-C"):
                break
        pids = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", "".join(banner))]
        assert len(pids) == 7, "".join(banner)
        assert all(_alive(pid) for pid in pids)

        # when it is sent SIGTERM
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    # then it exits cleanly, every process it started gone, its database kept
    assert status == 0
    assert [pid for pid in pids if _alive(pid)] == []
    assert asyncio.run(_database_exists(postgres_server_url, cluster_database))
    assert (tmp_path / "haproxy.log").exists()
