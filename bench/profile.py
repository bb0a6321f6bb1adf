"""`python -m bench.profile [--scenario a] [--seconds 20]`: a py-spy profile of one
gateway worker under steady load, written to bench/profiles/ as collapsed stacks (for
flamegraph tools or speedscope) plus a summary of where the CPU goes."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from bench.flame import summarise
from bench.load import run_wrk
from bench.run import Plan, Runner
from bench.scenarios import SCENARIOS
from bench.stack import side_stack

PROFILES = Path(__file__).parent / "profiles"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--scenario", default="a", choices=sorted(SCENARIOS))
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--name", default=None, help="file stem in bench/profiles/")
    parser.add_argument("--latency-ms", type=int, default=5)
    args = parser.parse_args(argv)
    if shutil.which("py-spy") is None and not (Path(sys.executable).parent / "py-spy").exists():
        print("py-spy is not installed (pip install '.[bench]')", file=sys.stderr)
        return 1
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    scenario = SCENARIOS[args.scenario]
    PROFILES.mkdir(exist_ok=True)
    stem = args.name or f"{scenario.name}"
    raw = PROFILES / f"{stem}.collapsed.txt"
    with side_stack("bench-profile-", args.latency_ms) as stack:
        runner = Runner(stack, Plan.quick(), stack.run_dir, [scenario.key])
        if scenario.writes:
            runner.invoices = stack.create_payable_invoices(300)
        gateway = stack.start_gateway(1)
        request = runner.request_for(gateway, scenario)
        run_wrk(request, connections=8, duration_s=2, cpus="1")
        recorder = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                py_spy,
                "record",
                "--pid",
                str(gateway.pid),
                "--rate",
                "250",
                "--duration",
                str(args.seconds),
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        load = threading.Thread(
            target=run_wrk,
            kwargs={
                "request": request,
                "connections": args.connections,
                "duration_s": args.seconds + 1,
                "cpus": "1",
            },
        )
        load.start()
        recorder.wait(timeout=args.seconds + 60)
        load.join()
    summary = summarise(raw.read_text())
    (PROFILES / f"{stem}.summary.txt").write_text(summary)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
