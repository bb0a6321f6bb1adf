"""Driving load: wrk for closed-loop phases, bench.loadgen for open-loop ones, both on
the load CPUs, and the server's CPU measured around each."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.measure import cpu_seconds
from bench.procs import HOST, pinned, python
from bench.stats import WrkResult, parse_wrk

LUA = Path(__file__).parent / "wrk" / "check.lua"
# Load generators running now: stopped by stop_load() when a run is interrupted, since
# a SIGTERM to the harness (unlike Ctrl-C in a terminal) does not reach them.
_RUNNING: set[subprocess.Popen[bytes]] = set()


def stop_load() -> None:
    for process in list(_RUNNING):
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        _RUNNING.discard(process)


def _run(argv: list[str], env: dict[str, str] | None, timeout: float) -> tuple[int, bytes, bytes]:
    process = subprocess.Popen(  # noqa: S603 - argv built here
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    _RUNNING.add(process)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        _RUNNING.discard(process)
    return process.returncode, stdout, stderr


@dataclass(frozen=True)
class Request:
    """One scenario's request for one server, as files wrk and loadgen read."""

    port: int
    path: str
    token: str
    mode: str  # "read" or "pay"
    body_file: Path | None = None
    expect_file: Path | None = None
    template_file: Path | None = None
    invoices_file: Path | None = None


@dataclass(frozen=True)
class Usage:
    wall_s: float
    server_cpu_s: float
    helpers_cpu_s: float
    system_busy: float  # fraction of all CPUs busy, whoever used them


def wait_idle(pid: int, timeout: float = 15.0) -> None:
    """Until in-flight requests are done: the server's CPU stops moving."""
    deadline = time.monotonic() + timeout
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = cpu_seconds(pid)
        if now - before < 0.004:
            return
        before = now


class Meter:
    """CPU of the server and of the helpers (sandboxes, load generator) over a phase."""

    def __init__(self, server_pid: int, helper_pids: list[int]) -> None:
        self.server_pid = server_pid
        self.helper_pids = helper_pids

    def __enter__(self) -> Meter:
        self._t0 = time.monotonic()
        self._server0 = cpu_seconds(self.server_pid)
        self._helpers0 = sum(cpu_seconds(p) for p in self.helper_pids)
        self._system0 = psutil.cpu_times()
        self.generator_cpu_s = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        wait_idle(self.server_pid)
        system1 = psutil.cpu_times()
        wall = time.monotonic() - self._t0
        idle = (system1.idle + system1.iowait) - (self._system0.idle + self._system0.iowait)
        total = sum(system1) - sum(self._system0)
        self.usage = Usage(
            wall_s=wall,
            server_cpu_s=cpu_seconds(self.server_pid) - self._server0,
            helpers_cpu_s=sum(cpu_seconds(p) for p in self.helper_pids)
            - self._helpers0
            + self.generator_cpu_s,
            system_busy=1 - idle / total if total > 0 else 0.0,
        )


def _env(request: Request, **extra: str) -> dict[str, str]:
    env = {
        "BENCH_MODE": request.mode,
        "BENCH_TOKEN": request.token,
        "BENCH_PATH": request.path,
        "BENCH_THREADS": "1",
        **extra,
    }
    for name, path in (
        ("BENCH_BODY_FILE", request.body_file),
        ("BENCH_EXPECT_FILE", request.expect_file),
        ("BENCH_TEMPLATE_FILE", request.template_file),
        ("BENCH_INVOICES_FILE", request.invoices_file),
    ):
        if path is not None:
            env[name] = str(path)
    return env


def run_wrk(
    request: Request,
    *,
    connections: int,
    duration_s: float,
    cpus: str | None,
    meter: Meter | None = None,
    key_prefix: str = "w",
    offset: int = 0,
    window_skip_s: float = 0.0,
) -> WrkResult:
    argv = pinned(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration_s))}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            f"http://{HOST}:{request.port}{request.path}",
        ],
        cpus,
    )
    env = {
        **os.environ,
        **_env(
            request,
            BENCH_KEY_PREFIX=key_prefix,
            BENCH_OFFSET=str(offset),
            BENCH_WINDOW_SKIP=str(window_skip_s),
        ),
    }
    _child_cpu_delta()
    returncode, stdout, stderr = _run(argv, env, duration_s + 60)
    if meter is not None:
        meter.generator_cpu_s += _child_cpu_delta()
    if returncode != 0:
        raise RuntimeError(f"wrk failed ({returncode}): {stderr.decode()[-500:]}")
    return parse_wrk(stdout.decode())


def _text(path: Path | None) -> str:
    if path is None:
        raise ValueError("the request lacks a file this mode needs")
    return path.read_text()


class _ChildrenCpu:
    """CPU of the harness's finished children (wrk, loadgen), read as deltas."""

    last = 0.0

    @classmethod
    def delta(cls) -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        total = usage.ru_utime + usage.ru_stime
        delta, cls.last = total - cls.last, total
        return delta


_child_cpu_delta = _ChildrenCpu.delta


def run_open_loop(
    request: Request,
    *,
    rate: float,
    duration_s: float,
    cpus: str | None,
    work_dir: Path,
    meter: Meter | None = None,
    invoices: list[str] | None = None,
    key_prefix: str = "ol",
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "port": request.port,
        "path": request.path,
        "token": request.token,
        "rate": rate,
        "duration_s": duration_s,
        "mode": request.mode,
        "key_prefix": key_prefix,
    }
    if request.mode == "read":
        spec["body"] = _text(request.body_file)
        spec["expected"] = _text(request.expect_file)
    else:
        spec["template"] = _text(request.template_file)
        spec["invoices"] = invoices or []
    spec_file = work_dir / f"loadgen-{key_prefix}.json"
    spec_file.write_text(json.dumps(spec))
    _child_cpu_delta()
    returncode, stdout, stderr = _run(
        pinned([python(), "-m", "bench.loadgen", str(spec_file)], cpus), None, duration_s + 60
    )
    if meter is not None:
        meter.generator_cpu_s += _child_cpu_delta()
    if returncode != 0:
        raise RuntimeError(f"loadgen failed: {stderr.decode()[-800:]}")
    result: dict[str, Any] = json.loads(stdout)
    return result
