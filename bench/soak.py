"""`python -m bench.soak [--seconds 600]`: scenario (a) on one gateway worker at 70% of
its saturation for ten minutes, RSS sampled every 5 s; writes bench/results/soak.json.
RSS is flat when the last minute's median is within 5% (and 10 MB) of the second
minute's (the first minute is warm-up: caches and pools filling)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.load import run_open_loop, run_wrk
from bench.measure import memory
from bench.run import Plan, Runner
from bench.scenarios import DASHBOARD
from bench.stack import side_stack

RESULTS = Path(__file__).parent / "results"
SAMPLE_EVERY_S = 5.0


def flatness(samples: list[tuple[float, float]], window_s: float = 60.0) -> dict[str, Any]:
    """Compares the median RSS of the second `window_s` with that of the last."""
    if not samples:
        return {"flat": False, "growth_mb": float("nan"), "note": "no samples"}
    end = samples[-1][0]
    early = [rss for t, rss in samples if window_s <= t < 2 * window_s] or [samples[0][1]]
    late = [rss for t, rss in samples if t >= end - window_s]
    growth = statistics.median(late) - statistics.median(early)
    base = statistics.median(early)
    return {
        "flat": growth <= 10.0 and growth <= 0.05 * base,
        "growth_mb": growth,
        "early_median_mb": base,
        "late_median_mb": statistics.median(late),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--seconds", type=int, default=600)
    args = parser.parse_args(argv)
    samples: list[tuple[float, float]] = []
    result: dict[str, Any] = {}
    with side_stack("bench-soak-") as stack:
        work_dir = stack.run_dir
        runner = Runner(stack, Plan.quick(), work_dir, ["a"])
        gateway = stack.start_gateway(1)
        request = runner.request_for(gateway, DASHBOARD)
        saturation = run_wrk(request, connections=32, duration_s=8, cpus="1")
        rate = 0.7 * saturation.rate
        print(f"saturation {saturation.rate:.0f} req/s; soaking at {rate:.0f} req/s", flush=True)
        outcome: dict[str, Any] = {}

        def soak() -> None:
            outcome.update(
                run_open_loop(
                    request, rate=rate, duration_s=args.seconds, cpus="1", work_dir=work_dir
                )
            )

        load = threading.Thread(target=soak)
        started = time.monotonic()
        load.start()
        while load.is_alive():
            samples.append((time.monotonic() - started, memory(gateway.pid).rss_mb))
            load.join(timeout=SAMPLE_EVERY_S)
        result = {
            "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "seconds": args.seconds,
            "rate": rate,
            "bad": outcome.get("bad", -1) + outcome.get("errors", -1),
            "bad_sample": outcome.get("bad_sample", ""),
            "dropped": outcome.get("dropped", 0),
            "sent": outcome.get("sent", 0),
            "latency": outcome.get("latency"),
            **flatness(samples),
            "samples": samples,
        }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))
    return 0 if result.get("flat") and result.get("bad") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
