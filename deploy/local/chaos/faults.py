"""The faults a chaos run injects, on a fixed timeline, and the marks the report draws.

Each fault is a function of the running world (the cluster, its private PostgreSQL,
Redis and RabbitMQ) that does its damage, waits out its length and heals; the schedule
runs them in a thread beside the load, one after another, recording when each began and
ended (seconds into the run). A fault that cannot heal raises, and the run fails.

- gateway-kill: the invoicing service is slowed to 2.5 s for recording payments, so that
  payInvoice sagas are between their charge and its recording, and then one gateway is
  killed with SIGKILL (no shutdown of any kind); it is started again 5 s later. Its
  sagas are resumed by the other gateways' relays (after RELAY_GRACE_SECONDS) or by the
  client's retry with the same key.
- postgres-restart: a fast shutdown (every session cut) and a start, 3 s down.
- redis-down / rabbitmq-down: stopped for 30 s, then started again.
- payments-503 / payments-timeouts: the payments sandbox answers 503 to the next 40
  requests, then hangs 6 of them (the gateway's per-call deadline cuts them).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from bench.procs import wait_ready
from deploy.local import haproxy
from deploy.local.cluster import start_gateway
from deploy.local.topology import INVOICING_TOKEN, PAYMENTS_TOKEN, url

if TYPE_CHECKING:
    from deploy.local.cluster import Running
    from deploy.local.private import Private

DOWN_SECONDS = 30.0


@dataclass(frozen=True)
class Mark:
    name: str
    start: float
    end: float


@dataclass
class World:
    running: Running
    private: Private
    clock: Callable[[], float]
    marks: list[Mark] = field(default_factory=list)
    # Windows when the balancer had no gateway UP (its statistics, sampled).
    no_gateway_up: list[tuple[float, float]] = field(default_factory=list)


def sandbox_faults(port: int, token: str, config: dict[str, object] | None) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=5, trust_env=False, headers=headers) as client:
        if config is None:
            client.delete(f"{url(port)}/_sandbox/faults").raise_for_status()
        else:
            client.put(f"{url(port)}/_sandbox/faults", json=config).raise_for_status()


def kill_gateway(world: World, index: int = 1) -> None:
    running = world.running
    if running.processes is None:
        raise RuntimeError("the cluster's processes are not ours to kill")
    ports = running.ports
    sandbox_faults(
        ports.invoicing,
        INVOICING_TOKEN,
        {"latency_ms": 2500, "path_prefix": "/v1/invoices/", "method": "POST"},
    )
    try:
        time.sleep(2.0)  # sagas pile up between their charge and its recording
        name = haproxy.server_name(index)
        victim = next(c for c in running.processes.children if c.name == name)
        os.killpg(victim.pid, signal.SIGKILL)
        running.processes.stop(victim)
    finally:
        sandbox_faults(ports.invoicing, INVOICING_TOKEN, None)
    time.sleep(5.0)
    child = start_gateway(running.processes, running, index)
    wait_ready(f"{url(ports.gateways[index])}/readyz", [child], 60)


def restart_postgres(world: World) -> None:
    world.private.stop_postgres()
    time.sleep(3.0)
    world.private.start_postgres()


def redis_down(world: World) -> None:
    world.private.stop_redis()
    time.sleep(DOWN_SECONDS)
    world.private.start_redis()


def rabbitmq_down(world: World) -> None:
    world.private.stop_rabbitmq()
    time.sleep(DOWN_SECONDS)
    world.private.start_rabbitmq()


def payments_errors(world: World) -> None:
    port = world.running.ports.payments
    sandbox_faults(port, PAYMENTS_TOKEN, {"fail_next": 40, "fail_status": 503})
    time.sleep(10.0)
    sandbox_faults(port, PAYMENTS_TOKEN, {"hang_next": 6})
    time.sleep(15.0)
    sandbox_faults(port, PAYMENTS_TOKEN, None)


Fault = Callable[[World], None]
# (seconds into the load, name, fault): each begins at its time or when the one before
# it ended, whichever is later; the gaps let the system settle between faults.
SCHEDULE: tuple[tuple[float, str, Fault], ...] = (
    (20.0, "gateway kill -9", kill_gateway),
    (55.0, "PostgreSQL restart", restart_postgres),
    (85.0, "Redis down 30 s", redis_down),
    (140.0, "RabbitMQ down 30 s", rabbitmq_down),
    (200.0, "payments 503s and timeouts", payments_errors),
)
LOAD_SECONDS = 250.0


def run_schedule(
    world: World, load_seconds: float, stop: threading.Event, errors: list[BaseException]
) -> None:
    """The faults that begin within the load, in order (a short run has fewer)."""
    for at, name, fault in SCHEDULE:
        if at >= load_seconds:
            return
        while world.clock() < at:
            if stop.wait(0.2):
                return
        began = world.clock()
        try:
            fault(world)
        except Exception as exc:  # noqa: BLE001 - the thread's boundary: the run reports it
            errors.append(exc)
            world.marks.append(Mark(f"{name} (FAILED)", began, world.clock()))
            return
        world.marks.append(Mark(name, began, world.clock()))


def watch_balancer(world: World, stop: threading.Event) -> None:
    """Samples the balancer's view every 0.5 s: when no gateway was UP."""
    down_since: float | None = None
    while not stop.wait(0.5):
        states: dict[str, str] = {}
        with contextlib.suppress(OSError):
            states = haproxy.server_states(world.running.ports.stats)
        now = world.clock()
        none_up = bool(states) and not any(s.startswith("UP") for s in states.values())
        if none_up and down_since is None:
            down_since = now - 0.5
        elif not none_up and down_since is not None:
            world.no_gateway_up.append((down_since, now + 0.5))
            down_since = None
    if down_since is not None:
        world.no_gateway_up.append((down_since, world.clock()))
