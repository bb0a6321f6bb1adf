"""`python -m bench [--quick] [--scenarios abcd] ...`: see bench/README.md."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import peer, report
from bench.gateway_app import variant_environment
from bench.load import stop_load
from bench.procs import Processes, StartupError, stopped_on_signals
from bench.run import Plan, Runner, VoidRunError
from bench.scenarios import SCENARIOS
from bench.stack import LOCAL_POSTGRES, Cpus, Database, Server, Stack

RESULTS = Path(__file__).parent / "results"


def _cpus(pin: bool) -> Cpus:
    count = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    if not pin or count < 2 or shutil.which("taskset") is None:
        return Cpus(None, None, None)
    app = os.environ.get("BENCH_APP_CPUS", "0")
    load = os.environ.get("BENCH_LOAD_CPUS", ",".join(str(c) for c in range(1, count)))
    return Cpus(app, load, f"0-{count - 1}")


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        memory_kb = 0
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gb": memory_kb / 1024 / 1024,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _last_soak(out: Path) -> dict[str, Any] | None:
    """The last `make bench-soak` result, if any (a ten-minute run is its own command)."""
    try:
        soak: dict[str, Any] = json.loads((out / "soak.json").read_text())
    except (OSError, ValueError):
        return None
    return soak if "flat" in soak else None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="short phases, no chart points, no 2-worker run"
    )
    parser.add_argument("--scenarios", default="abcd", help="which of a, b, c, d (default all)")
    parser.add_argument("--latency-ms", type=int, default=5, help="injected per downstream call")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument(
        "--no-cache", action="store_true", help="sandboxes serve every call for real"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.{json,md,png} go")
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_ADMIN_DATABASE_URL", LOCAL_POSTGRES),
        help="an existing PostgreSQL database to create the run's throwaway database from",
    )
    parser.add_argument(
        "--enforce-budget", action="store_true", help="exit 3 if scenario (a) misses its budget"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the run directory")
    parser.add_argument(
        "--no-peer", action="store_true", help="leave the Apollo peer (bench/peers/apollo/) out"
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: redo latest.md and latency.png from latest.json (and soak.json)",
    )
    parser.add_argument(
        "--gateway-variant",
        default="",
        help="comma-separated variants of the gateway: httpcore, nosniffio, untuned, "
        "gc10k, gc20k, loadsjson, fullexecutor, nolevels, httpxreads, eagerretries, "
        "nojwtcache, nosingleflight (bench/gateway_app.py)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {''.join(sorted(unknown))}")
    return args


def render(out: Path) -> int:
    result: dict[str, Any] = json.loads((out / "latest.json").read_text())
    if "a" in result["scenarios"]:
        result["scenarios"]["a"]["budget"] = report.budget(
            result["scenarios"]["a"], _last_soak(out)
        )
    print(report.write(result, out))
    return 0


def _start_peer(
    stack: Stack, runner: Runner, args: argparse.Namespace, keys: list[str]
) -> Server | None:
    """The Apollo peer when it can run and has a scenario to run; otherwise None, said in
    the report's warnings (a machine without Node still gets the rest of the table)."""
    if args.no_peer or not set(keys) & set(peer.SCENARIO_KEYS):
        return None
    problem = peer.node_problem()
    if problem is not None:
        print(f"the Apollo peer is left out: {problem}", file=sys.stderr)
        runner.problems.append(f"the Apollo peer did not run: {problem}")
        return None
    return stack.start_peer()


def run(args: argparse.Namespace) -> int:
    if args.render_only:
        return render(args.out)
    plan = Plan.quick() if args.quick else Plan.full()
    keys = [k for k in "abcd" if k in args.scenarios]
    cpus = _cpus(not args.no_pin)
    work_dir = Path(tempfile.mkdtemp(prefix="bench-"))
    processes = Processes(work_dir)
    # Always PostgreSQL: production mode, and the outbox relay polls it as it would.
    database = Database(args.database)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    result: dict[str, Any] = {
        "started": started,
        "commit": _commit(),
        "machine": _machine(),
        "settings": {
            "latency_ms": args.latency_ms,
            "quick": args.quick,
            "pinning": f"server on CPU {cpus.app}, sandboxes and load on {cpus.load}"
            if cpus.app
            else "none",
            "sandbox_response_cache": not args.no_cache,
            "gateway_variant": args.gateway_variant or "as shipped",
            "plan": plan.__dict__,
        },
        "scenarios": {},
        "problems": [],
    }
    failed = False
    with stopped_on_signals():
        try:
            database.create()
            stack = Stack(processes, work_dir, cpus, args.latency_ms, cache=not args.no_cache)
            stack.database = database
            stack.start_downstreams()
            stack.migrate()
            runner = Runner(stack, plan, work_dir, keys)
            if "d" in keys:
                runner.invoices = stack.create_payable_invoices(plan.payable_invoices)
            variant = variant_environment([v for v in args.gateway_variant.split(",") if v])
            gateway = stack.start_gateway(1, variant)
            baseline = stack.start_baseline()
            apollo = _start_peer(stack, runner, args, keys)
            for scenario in runner.scenarios:
                print(f"scenario ({scenario.key}) {scenario.name} ...", flush=True)
                targets = {
                    "gateway": runner.measure(gateway, scenario),
                    "baseline": runner.measure(baseline, scenario),
                }
                if apollo is not None and scenario.key in peer.SCENARIO_KEYS:
                    targets[peer.NAME] = runner.measure(apollo, scenario)
                result["scenarios"][scenario.key] = {
                    "key": scenario.key,
                    "name": scenario.name,
                    "minimal_calls": sum(scenario.minimal_calls.values()),
                    "targets": targets,
                    "ratios": report.ratios(targets["gateway"], targets["baseline"]),
                }
                if peer.NAME in targets:
                    result["scenarios"][scenario.key]["ratios_to_peer"] = report.ratios(
                        targets["gateway"], targets[peer.NAME]
                    )
            processes.stop(gateway.child)
            if apollo is not None:
                processes.stop(apollo.child)
            if plan.two_workers and "a" in keys:
                print("scenario (a) with 2 gateway workers ...", flush=True)
                processes.stop(baseline.child)
                two = stack.start_gateway(2, variant)
                result["scenarios"]["a"]["targets"]["gateway_2w"] = runner.measure(
                    two, runner.scenarios[0], chart=False
                )
            if "a" in result["scenarios"]:
                result["scenarios"]["a"]["budget"] = report.budget(
                    result["scenarios"]["a"], _last_soak(args.out)
                )
        except VoidRunError as exc:
            print(f"VOID RUN: {exc}", file=sys.stderr)
            failed = True
        except (StartupError, RuntimeError, OSError, ValueError) as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            failed = True
        except KeyboardInterrupt:
            print("interrupted; stopping everything", file=sys.stderr)
            failed = True
        finally:
            stop_load()
            processes.stop_all()
            try:
                database.drop()
            except Exception as exc:  # noqa: BLE001 - cleanup must not hide the outcome
                print(f"could not drop {database.name}: {exc}", file=sys.stderr)
            if failed or args.keep_logs:
                print(f"logs kept in {work_dir}", file=sys.stderr)
            else:
                shutil.rmtree(work_dir, ignore_errors=True)
    if failed:
        return 1
    result["problems"] = runner.problems
    table = report.write(result, args.out)
    print(table)
    budget = result["scenarios"].get("a", {}).get("budget", {})
    if args.enforce_budget and any(check["ok"] is False for check in budget.values()):
        return 3
    return 0


def main() -> None:
    sys.exit(run(parse_args()))


if __name__ == "__main__":
    main()
