"""`python -m bench.ab --variants shipped,httpcore,untuned [--scenario a]`: which lever
saves CPU, measured so that a busy, shared machine cannot fake the answer.

Every variant runs at once (each its own gateway process, all on the server CPU, idle
while another is measured); rounds go through the variants in turn, each sending the same
requests one at a time over one connection and reading the server's CPU time before and
after. Slow drift in the machine's load hits every variant alike, and the minimum and
median over rounds are reported per variant, with the median per-round ratio to the
first variant. `--connections N` sends each round's requests over N connections at once
(N threads; the CPU counted is still the server's own), for what only shows under
concurrency: single flight (`nosingleflight`) shares identical reads in flight."""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
from typing import Any

from bench.gateway_app import variant_environment
from bench.measure import cpu_seconds, memory
from bench.procs import HOST
from bench.run import Plan, Runner
from bench.scenarios import SCENARIOS
from bench.stack import Server, side_stack


def _send(server: Server, path: str, body: bytes, token: str, count: int) -> None:
    connection = http.client.HTTPConnection(HOST, server.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        for _ in range(count):
            connection.request("POST", path, body=body, headers=headers)
            answer = connection.getresponse()
            payload = answer.read()
            if answer.status != 200 or b'"errors"' in payload:
                raise RuntimeError(f"bad answer {answer.status}: {payload[:200]!r}")
    finally:
        connection.close()


def _cpu_ms_per_request(
    server: Server, path: str, body: bytes, token: str, count: int, connections: int = 1
) -> float:
    before = cpu_seconds(server.pid)
    if connections == 1:
        _send(server, path, body, token, count)
    else:
        failures: list[BaseException] = []

        def send() -> None:
            try:
                _send(server, path, body, token, count)
            except (OSError, RuntimeError) as exc:
                failures.append(exc)

        threads = [threading.Thread(target=send) for _ in range(connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]
    return (cpu_seconds(server.pid) - before) * 1000 / (count * connections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab")
    parser.add_argument("--variants", default="shipped,httpcore,untuned")
    parser.add_argument(
        "--scenario", default="a", choices=[k for k, s in SCENARIOS.items() if not s.writes]
    )
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--requests", type=int, default=20, help="per connection and round")
    parser.add_argument("--connections", type=int, default=1)
    args = parser.parse_args(argv)
    names = args.variants.split(",")
    scenario = SCENARIOS[args.scenario]
    samples: dict[str, list[float]] = {name: [] for name in names}
    peaks: dict[str, float] = {}
    with side_stack("bench-ab-") as stack:
        runner = Runner(stack, Plan.quick(), stack.run_dir, [scenario.key])
        servers: dict[str, Server] = {}
        for name in names:
            levers = [] if name == "shipped" else name.split("+")
            servers[name] = stack.start_gateway(1, variant_environment(levers))
        body = json.dumps(scenario.gateway_body(), separators=(",", ":")).encode()
        for server in servers.values():  # warm-up: caches, pools, JWKS
            _cpu_ms_per_request(
                server, "/graphql", body, runner.token, args.requests, args.connections
            )
        for _ in range(args.rounds):
            for name, server in servers.items():
                samples[name].append(
                    _cpu_ms_per_request(
                        server, "/graphql", body, runner.token, args.requests, args.connections
                    )
                )
        for name, server in servers.items():
            peaks[name] = memory(server.pid).peak_rss_mb
    first = names[0]
    result: dict[str, Any] = {}
    for name in names:
        ratios = [a / b for a, b in zip(samples[name], samples[first], strict=True)]
        result[name] = {
            "cpu_ms_min": min(samples[name]),
            "cpu_ms_median": statistics.median(samples[name]),
            f"median_ratio_to_{first}": statistics.median(ratios),
            "peak_rss_mb": peaks.get(name),
        }
        print(
            f"{name:28s} CPU ms/request min {min(samples[name]):6.2f}  median "
            f"{statistics.median(samples[name]):6.2f}  vs {first}: "
            f"{statistics.median(ratios):.3f}  peak RSS {peaks.get(name, 0):.0f} MB"
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
