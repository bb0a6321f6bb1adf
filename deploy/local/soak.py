"""`make soak`: the local cluster at 70% of its saturation through the load balancer, for
30 minutes by default; zero errors, flat RSS per gateway process, flat backlogs.

    python -m deploy.local.soak [--minutes 30] [--fraction 0.7] [--out DIR]

The cluster is the chaos run's (HAProxy over 3 gateways with production settings, on a
PostgreSQL, Redis and RabbitMQ of the run's own, deploy/local/private.py) and so is the
workload (deploy/local/chaos/workload.py): dashboard reads, card and bank-transfer
payments (settled a few seconds later), refunds, new invoices and retries of earlier
keys, without the chaos run's bursts of one key sent three times at once. "Busy" answers
(another payment in progress on the invoice: retry) are counted apart from errors.
Saturation is measured first, open loop: the rate starts at RAMP_START_RPS and grows by
RAMP_FACTOR every RAMP_STEP_S seconds for as long as each step is sustained (every request
started on time, none failed, p99 within KNEE_P99_MS); saturation is the last sustained
rate. The soak then sends at `--fraction` of it, open loop too: a request starts on time
whether or not the earlier ones have been answered, so a server falling behind shows as
latency, not as a slower client. (The first version measured closed loop, 24 clients
asking as fast as answered: they asked for one dashboard at the same moments, single flight
shared those reads, and the 88 req/s it measured was twice what the cluster sustained open
loop; the 30-minute run at 70% of it failed, deploy/local/reports/soak.md of 2026-12-03.)
Bank transfers are settled by deploy/local/bank.py's bank, from the gateways' own list of
pending payments.

Every 10 s: each gateway's RSS (/proc), and from the gateway's database the backlogs that
must not grow: outbox steps not done, settlement watches not finished, events not
published. It passes when no request failed, each RSS is flat (the last window's median
within 5% and 10 MB of the second window's, bench/soak.py's rule; the first window is
warm-up) and no backlog grew (the last window's largest at most the early one's + 10).
Writes soak.json and soak.md to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.procs import Processes, stopped_on_signals
from deploy.local.backing import database_urls
from deploy.local.bank import SETTLE_AFTER_S, Bank, watched_pending
from deploy.local.banner import OWNER
from deploy.local.chaos.report import by_operation, percentile
from deploy.local.chaos.run import CHAOS_SETTINGS
from deploy.local.chaos.workload import Ledger, Sample, Workload
from deploy.local.cluster import ClusterError, Options, Running, cluster
from deploy.local.private import Private, PrivateError
from deploy.local.topology import PAYMENTS_TOKEN, REPO_ROOT, url

DEFAULT_OUT = REPO_ROOT / "deploy" / "local" / "reports"
SAMPLE_EVERY_S = 10.0
RAMP_START_RPS = 10.0
RAMP_FACTOR = 1.15
RAMP_STEP_S = 30.0
RAMP_MAX_RPS = 1000.0
KNEE_P99_MS = 1000.0
BACKLOG_SLACK = 10
# The chaos mix less its three-at-once sends of one key (their "busy" answers are right,
# but a soak counts every answer that is not a result).
SOAK_MIX = (
    ("read", 50),
    ("pay_card", 20),
    ("pay_bank", 8),
    ("refund", 10),
    ("retry", 10),
    ("new_invoice", 2),  # more invoices to pay: fewer payments racing on one
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def flat_rss(samples: list[tuple[float, float]], window_s: float) -> dict[str, Any]:
    """bench/soak.py's rule: the last window's median RSS within 5% and 10 MB of the
    second window's (the first is warm-up)."""
    end = samples[-1][0]
    early = [rss for t, rss in samples if window_s <= t < 2 * window_s] or [samples[0][1]]
    late = [rss for t, rss in samples if t >= end - window_s]
    base, last = statistics.median(early), statistics.median(late)
    growth = last - base
    return {
        "flat": growth <= 10.0 and growth <= 0.05 * base,
        "early_median_mb": round(base, 1),
        "late_median_mb": round(last, 1),
        "growth_mb": round(growth, 1),
    }


def flat_backlog(samples: list[tuple[float, int]], window_s: float) -> dict[str, Any]:
    """A backlog is flat when the last window's largest is at most the early window's
    largest plus a few (it may come and go; it must not build up)."""
    end = samples[-1][0]
    early = [n for t, n in samples if t < 2 * window_s] or [0]
    late = [n for t, n in samples if t >= end - window_s] or [0]
    return {
        "flat": max(late) <= max(early) + BACKLOG_SLACK,
        "early_max": max(early),
        "late_max": max(late),
    }


async def backlogs(dsn: str) -> dict[str, int]:
    import asyncpg  # noqa: PLC0415 - the app's own dependency, only for this sample

    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        return {
            "outbox": await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE completed_at IS NULL"
            ),
            "pending settlement": await connection.fetchval(
                "SELECT count(*) FROM payment_watch WHERE state <> 'done'"
            ),
            "unpublished events": await connection.fetchval(
                "SELECT count(*) FROM domain_events WHERE published_at IS NULL"
            ),
        }
    finally:
        await connection.close()


def step_verdict(rate: float, samples: list[Sample], skipped: int) -> dict[str, Any]:
    """One ramp step: sustained when every request started on time, none failed and the
    p99 stayed within KNEE_P99_MS."""
    p99 = percentile([s.latency_ms for s in samples], 99) if samples else 0.0
    errors = sum(s.error for s in samples)
    return {
        "rate_rps": round(rate, 1),
        "sent": len(samples),
        "errors": errors,
        "not_started": skipped,
        "p99_ms": round(p99, 1),
        "sustained": bool(samples) and skipped == 0 and errors == 0 and p99 <= KNEE_P99_MS,
    }


def ramp_rates(start: float = RAMP_START_RPS) -> list[float]:
    rates, rate = [], start
    while rate <= RAMP_MAX_RPS:
        rates.append(rate)
        rate *= RAMP_FACTOR
    return rates


def saturation_of(steps: list[dict[str, Any]]) -> float:
    """The last sustained rate before the first step that was not (0 if none was)."""
    best = 0.0
    for step in steps:
        if not step["sustained"]:
            break
        best = step["rate_rps"]
    return best


async def saturation(workload: Workload) -> tuple[float, list[dict[str, Any]]]:
    steps: list[dict[str, Any]] = []
    for rate in ramp_rates():
        before = len(workload.ledger.samples)
        skipped = await paced(workload, rate, RAMP_STEP_S)
        steps.append(step_verdict(rate, workload.ledger.samples[before:], skipped))
        print(f"ramp: {steps[-1]}", flush=True)
        if not steps[-1]["sustained"]:
            break
    return saturation_of(steps), steps


async def paced(workload: Workload, rate: float, seconds: float) -> int:
    """Starts `rate` steps a second for `seconds`, on time; the steps not started because
    too many were still unanswered (a server far behind)."""
    interval, in_flight, skipped = 1.0 / rate, set[asyncio.Task[None]](), 0
    began = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - began) < seconds:
        due = int(elapsed / interval) + 1
        while sent < due:
            sent += 1
            if len(in_flight) >= 256:
                skipped += 1
                continue
            task = asyncio.create_task(workload.step())
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.sleep(max(0.0, began + sent * interval - time.monotonic()))
    await asyncio.gather(*in_flight)
    return skipped


async def soak(running: Running, private: Private, args: argparse.Namespace) -> dict[str, Any]:
    ledger = Ledger()
    # A penny a payment: 30 minutes of payments leave every invoice open.
    workload = Workload(
        url(running.ports.lb), running.tokens[OWNER], ledger, mix=SOAK_MIX, amount="0.01"
    )
    dsn = database_urls(private.postgres_url, "chaos")[0]
    gateways = {c.name: c.pid for c in running.children if c.name.startswith("gateway-")}
    stop_settling = asyncio.Event()

    async def seen_pending() -> list[str]:
        now = ledger.now()
        return [p for p, seen in ledger.pending.items() if now - seen >= SETTLE_AFTER_S]

    async def taken_pending() -> list[str]:
        return await watched_pending(dsn)

    bank = Bank(url(running.ports.payments), PAYMENTS_TOKEN, (seen_pending, taken_pending))
    settler = asyncio.create_task(bank.run(stop_settling))
    try:
        rate_max, ramp = await saturation(workload)
        if rate_max == 0.0:
            raise ClusterError(f"no ramp step was sustained, not even the first: {ramp[0]}")
        rate = args.fraction * rate_max
        print(f"saturation {rate_max:.0f} req/s; soaking at {rate:.0f} req/s", flush=True)
        warm = len(ledger.samples)
        seconds = args.minutes * 60
        rss: dict[str, list[tuple[float, float]]] = {name: [] for name in gateways}
        queues: dict[str, list[tuple[float, int]]] = {}
        load = asyncio.create_task(paced(workload, rate, seconds))
        began = time.monotonic()
        while not load.done():
            at = time.monotonic() - began
            for name, pid in gateways.items():
                rss[name].append((at, rss_mb(pid)))
            counts = await backlogs(dsn)
            for name, count in counts.items():
                queues.setdefault(name, []).append((at, int(count)))
            if len(queues["outbox"]) % 6 == 1:  # a line a minute, to watch a long run
                print(f"{at:5.0f} s: {len(ledger.samples) - warm} sent, {counts}", flush=True)
            await asyncio.wait({load}, timeout=SAMPLE_EVERY_S)
        skipped = load.result()
    finally:
        stop_settling.set()
        await settler
        await workload.close()
    samples = ledger.samples[warm:]
    window = min(60.0, seconds / 6)
    errors = [s for s in samples if s.error]
    result = {
        "saturation_rps": round(rate_max, 1),
        "ramp": ramp,
        "bank": {"settled": len(bank.settled), "failed_calls": bank.failures},
        "rate_rps": round(rate, 1),
        "sent": len(samples),
        "achieved_rps": round(len(samples) / seconds, 1),
        "not_started_server_behind": skipped,
        "errors": len(errors),
        "busy_answers": sum(s.busy for s in samples),
        "error_sample": [f"{s.operation} {s.status} at {s.at:.0f}s" for s in errors[:5]],
        "latency_ms": {
            "p50": round(percentile([s.latency_ms for s in samples], 50), 1),
            "p99": round(percentile([s.latency_ms for s in samples], 99), 1),
        },
        "operations": by_operation(samples),
        "rss": {name: flat_rss(points, window) for name, points in rss.items()},
        "backlogs": {name: flat_backlog(points, window) for name, points in queues.items()},
        "rss_samples": rss,
        "backlog_samples": queues,
    }
    result["passed"] = (
        result["errors"] == 0
        and skipped == 0
        and all(r["flat"] for r in result["rss"].values())
        and all(b["flat"] for b in result["backlogs"].values())
    )
    return result


def markdown(result: dict[str, Any]) -> str:
    verdict = "PASSED" if result["passed"] else "FAILED"
    lines = [
        f"# Soak: {verdict}",
        "",
        f"{result['started']} on {result['machine']}: {result['minutes']} min at"
        f" {result['rate_rps']} req/s ({result['fraction']:.0%} of the {result['saturation_rps']}"
        f" req/s sustained open loop with p99 within {KNEE_P99_MS:.0f} ms) through HAProxy"
        " over 3 gateways."
        " Reproduce with `make soak` (deploy/local/soak.py).",
        "",
        f"- requests: {result['sent']} ({result['achieved_rps']} req/s), errors:"
        f" {result['errors']}, busy answers: {result['busy_answers']}, not started (server"
        f" behind): {result['not_started_server_behind']}",
        f"- latency: p50 {result['latency_ms']['p50']} ms, p99 {result['latency_ms']['p99']} ms",
        "",
        "| gateway | RSS early (MB) | RSS late (MB) | growth (MB) | flat |",
        "|---|---|---|---|---|",
    ]
    for name, rss in result["rss"].items():
        lines.append(
            f"| {name} | {rss['early_median_mb']} | {rss['late_median_mb']} |"
            f" {rss['growth_mb']} | {'yes' if rss['flat'] else '**no**'} |"
        )
    lines += ["", "| backlog | early max | late max | flat |", "|---|---|---|---|"]
    for name, backlog in result["backlogs"].items():
        lines.append(
            f"| {name} | {backlog['early_max']} | {backlog['late_max']} |"
            f" {'yes' if backlog['flat'] else '**no**'} |"
        )
    if result.get("ramp"):
        lines += [
            "",
            f"Saturation ramp (open loop, {RAMP_STEP_S:.0f} s a step):",
            "",
            "| rate (req/s) | sent | errors | not started | p99 (ms) | sustained |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {step['rate_rps']} | {step['sent']} | {step['errors']} | {step['not_started']} |"
            f" {step['p99_ms']} | {'yes' if step['sustained'] else '**no**'} |"
            for step in result["ramp"]
        ]
    if "bank" in result:
        lines += [
            "",
            f"Bank transfers settled by the soak's bank: {result['bank']['settled']}"
            f" (failed settle calls, asked again: {result['bank']['failed_calls']}).",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--fraction", type=float, default=0.7)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    root = Path(tempfile.mkdtemp(prefix="soak-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres and rabbitmq users enter it
    servers = Processes(root)
    private = Private(root, servers)
    code = 1
    with stopped_on_signals():
        try:
            private.start_all()
            options = Options(
                port=0,
                gateways=3,
                latency_ms=5,
                database="chaos",
                postgres=private.postgres_url,
                redis_url=private.redis_url,
                amqp_url=private.amqp_url,
                haproxy=None,
                run_dir=root / "cluster",
                check=False,
                gateway_settings=CHAOS_SETTINGS,
            )
            with cluster(options) as running:
                result = asyncio.run(soak(running, private, args))
            result = {
                "started": started,
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
                "minutes": args.minutes,
                "fraction": args.fraction,
                **result,
            }
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "soak.json").write_text(json.dumps(result, indent=1) + "\n")
            (args.out / "soak.md").write_text(markdown(result))
            print(markdown(result), flush=True)
            code = 0 if result["passed"] else 1
        except (ClusterError, PrivateError) as exc:
            print(f"error: {exc}", file=sys.stderr)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
        finally:
            private.stop_all()
            servers.stop_all()
            shutil.rmtree(root, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
