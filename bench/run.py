"""One benchmark run: start everything, measure each scenario on the gateway, the
baseline and the Apollo peer (interleaved, so drift in a noisy machine hits all alike),
stop everything."""

from __future__ import annotations

import json
import math
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import peer
from bench.load import Meter, Request, Usage, run_open_loop, run_wrk, wait_idle
from bench.measure import memory, reset_peak
from bench.scenarios import SCENARIOS, Scenario, ShapeError, check_answer
from bench.stack import Server, Stack
from bench.stats import WrkResult, account_calls, answered


class VoidRunError(RuntimeError):
    """A phase got a bad answer: the numbers of this run mean nothing."""


@dataclass(frozen=True)
class Plan:
    warmup_s: float
    one_connection_s: float
    saturation_s: float
    saturation_connections: int
    open_loop_s: float
    # Extra open-loop points for the latency-vs-load chart (fractions of saturation).
    chart_fractions: tuple[float, ...]
    chart_s: float
    two_workers: bool
    payable_invoices: int

    @classmethod
    def full(cls) -> Plan:
        return cls(2, 6, 12, 32, 8, (0.25, 0.5, 0.9), 4, True, 1000)

    @classmethod
    def quick(cls) -> Plan:
        return cls(1, 2, 5, 32, 3, (), 0, False, 300)

    @property
    def saturation_skip_s(self) -> float:
        """The ramp left out of the saturation rate: 32 connections queue up first."""
        return self.saturation_s * 0.4


LOAD_FRACTION = 0.7


def _post(port: int, path: str, token: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - loopback URL
        f"http://127.0.0.1:{port}{path}",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _pay_template(scenario: Scenario, gateway: bool) -> str:
    """The request body with %s for the idempotency key and the invoice id."""
    variables = json.loads(json.dumps(scenario.variables))
    variables["input"]["idempotencyKey"] = "@@KEY@@"
    variables["input"]["invoiceId"] = "@@INVOICE@@"
    body = scenario.gateway_body(variables) if gateway else scenario.baseline_body(variables)
    text = json.dumps(body, separators=(",", ":")).replace("%", "%%")
    return text.replace("@@KEY@@", "%s").replace("@@INVOICE@@", "%s")


class Runner:
    def __init__(self, stack: Stack, plan: Plan, work_dir: Path, scenario_keys: list[str]) -> None:
        self.stack = stack
        self.plan = plan
        self.work_dir = work_dir
        self.scenarios = [SCENARIOS[key] for key in scenario_keys]
        self.token = stack.owner_token()
        self.invoices: list[str] = []
        self.problems: list[str] = []
        # Each scenario's reference answer on the gateway, which the peer's must equal.
        self.gateway_data: dict[str, Any] = {}

    # -- requests ---------------------------------------------------------------------

    def request_for(self, server: Server, scenario: Scenario) -> Request:
        # The gateway and the peer take the same GraphQL document; the baseline its route.
        gateway = server.name.startswith("gateway")
        graphql = gateway or server.name == peer.NAME
        path = "/graphql" if graphql else scenario.baseline_path
        stem = self.work_dir / f"{scenario.name}-{server.name}"
        if scenario.writes:
            template = stem.with_suffix(".template")
            template.write_text(_pay_template(scenario, graphql))
            invoices = self.work_dir / "invoices.txt"
            invoices.write_text("\n".join(self.invoices) + "\n")
            return Request(
                server.port, path, self.token, "pay", template_file=template, invoices_file=invoices
            )
        body = scenario.gateway_body() if graphql else scenario.baseline_body()
        body_bytes = json.dumps(body, separators=(",", ":")).encode()
        status, answer = _post(server.port, path, self.token, body_bytes)
        try:
            parsed = json.loads(answer)
            check_answer(scenario, status, parsed)
        except (ShapeError, ValueError) as exc:
            raise VoidRunError(
                f"{scenario.name} on {server.name}: reference answer: {exc}"
            ) from exc
        if gateway:
            self.gateway_data[scenario.key] = parsed["data"]
        elif server.name == peer.NAME:
            self.check_same_data(scenario, parsed["data"])
        body_file, expect_file = stem.with_suffix(".body"), stem.with_suffix(".expect")
        body_file.write_bytes(body_bytes)
        expect_file.write_bytes(answer)
        return Request(server.port, path, self.token, "read", body_file, expect_file)

    def check_same_data(self, scenario: Scenario, data: Any) -> None:
        """The peer must answer what the gateway answers, or it is not doing the same job
        and its numbers compare nothing: the run is void."""
        if scenario.key not in self.gateway_data:
            raise VoidRunError(f"{scenario.name}: no gateway answer to hold the peer's to")
        difference = peer.data_difference(self.gateway_data[scenario.key], data)
        if difference is not None:
            raise VoidRunError(
                f"{scenario.name}: the {peer.NAME} peer's answer differs from the gateway's: "
                f"{difference}"
            )

    # -- phases -----------------------------------------------------------------------

    def _helpers(self) -> list[int]:
        return [child.pid for child in self.stack.sandboxes.values()]

    def _closed(
        self,
        server: Server,
        request: Request,
        scenario: Scenario,
        connections: int,
        seconds: float,
        tag: str,
        skip: float = 0.0,
    ) -> dict[str, Any]:
        self.stack.reset_calls()
        with Meter(server.pid, self._helpers()) as meter:
            result = run_wrk(
                request,
                connections=connections,
                duration_s=seconds,
                cpus=self.stack.cpus.load,
                meter=meter,
                key_prefix=f"{tag}-{secrets.token_hex(3)}",
                offset=secrets.randbelow(max(1, len(self.invoices))),
                window_skip_s=skip,
            )
        self._void_if_bad(server, scenario, tag, result.failures, result.bad_sample)
        return self._phase(result_json(result), meter.usage, scenario, server)

    def _open(
        self,
        server: Server,
        request: Request,
        scenario: Scenario,
        rate: float,
        seconds: float,
        tag: str,
    ) -> dict[str, Any]:
        self.stack.reset_calls()
        with Meter(server.pid, self._helpers()) as meter:
            result = run_open_loop(
                request,
                rate=rate,
                duration_s=seconds,
                cpus=self.stack.cpus.load,
                work_dir=self.work_dir,
                meter=meter,
                invoices=self.invoices,
                key_prefix=f"{tag}-{secrets.token_hex(3)}",
            )
        self._void_if_bad(
            server, scenario, tag, result["bad"] + result["errors"], result["bad_sample"]
        )
        if result["dropped"]:
            self.problems.append(
                f"{scenario.name}/{server.name}/{tag}: the server fell behind the rate; "
                f"{result['dropped']} of {result['sent']} requests dropped at "
                f"{result['connections']} open connections (latency excludes them)"
            )
        if not result["generator_kept_up"]:
            self.problems.append(
                f"{scenario.name}/{server.name}/{tag}: the load generator fell behind "
                f"(p99 {result['generator_lateness']['p99_ms']:.1f} ms late)"
            )
        phase = self._phase(result, meter.usage, scenario, server)
        phase["rate"] = result["completed"] / seconds
        return phase

    def _phase(
        self, result: dict[str, Any], usage: Usage, scenario: Scenario, server: Server
    ) -> dict[str, Any]:
        calls = account_calls(self.stack.calls(), scenario.minimal_calls)
        served = answered(result)
        result.update(
            {
                "calls": calls.as_json(),
                "server_cpu_s": usage.server_cpu_s,
                "server_cpu_ms_per_request": usage.server_cpu_s * 1000 / served
                if served
                else math.nan,
                # How busy the server's CPUs were: below ~90% at saturation means
                # something else (the load side, the machine) limited the rate.
                "server_busy": usage.server_cpu_s / usage.wall_s / server.workers,
                "load_side_busy": usage.helpers_cpu_s / usage.wall_s,
                "system_busy": usage.system_busy,
                "wall_s": usage.wall_s,
            }
        )
        return result

    def _void_if_bad(
        self, server: Server, scenario: Scenario, tag: str, failures: int, sample: str
    ) -> None:
        if failures:
            raise VoidRunError(
                f"{scenario.name} on {server.name} ({tag}): {failures} bad answers; "
                f"first: {sample[:300]}"
            )

    def measure(self, server: Server, scenario: Scenario, *, chart: bool = True) -> dict[str, Any]:
        plan = self.plan
        request = self.request_for(server, scenario)
        reset_peak(server.pid)
        run_wrk(
            request,
            connections=8,
            duration_s=plan.warmup_s,
            cpus=self.stack.cpus.load,
            key_prefix=f"warm-{secrets.token_hex(3)}",
        )
        wait_idle(server.pid)
        one = self._closed(server, request, scenario, 1, plan.one_connection_s, "c1")
        saturation = self._closed(
            server,
            request,
            scenario,
            plan.saturation_connections,
            plan.saturation_s,
            "sat",
            skip=plan.saturation_skip_s,
        )
        rate = saturation["rate"]
        loaded = self._open(
            server, request, scenario, LOAD_FRACTION * rate, plan.open_loop_s, "ol70"
        )
        curve = [loaded]
        if chart:
            for fraction in plan.chart_fractions:
                point = self._open(
                    server,
                    request,
                    scenario,
                    fraction * rate,
                    plan.chart_s,
                    f"ol{round(fraction * 100)}",
                )
                curve.append(point)
        mem = memory(server.pid)
        return {
            "server": server.name,
            "workers": server.workers,
            "one_connection": one,
            "saturation": saturation,
            "rate_per_worker": rate / server.workers,
            "at_70_percent": loaded,
            "curve": sorted(curve, key=lambda p: p["rate_asked"]),
            "peak_rss_mb": mem.peak_rss_mb,
            "rss_mb": mem.rss_mb,
        }


def result_json(result: WrkResult) -> dict[str, Any]:
    return {
        "requests": result.requests,
        "duration_s": result.duration_s,
        "rate": result.rate,
        "rate_whole_run": result.requests / result.duration_s if result.duration_s else 0.0,
        "latency": result.latency_ms,
        "errors": result.errors,
        "bad": result.bad,
    }
