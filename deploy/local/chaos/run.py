"""`make chaos`: the local cluster under a mixed load while faults are injected; then the
invariants, checked against the services' own state, and a report.

    python -m deploy.local.chaos.run [--load-seconds 250] [--workers 8] [--out DIR]

Loopback only. PostgreSQL, Redis and RabbitMQ are the run's own (deploy/local/private.py):
the machine's are shared and never restarted or stopped. The cluster is `make cluster`'s
(HAProxy over 3 gateways with production settings, sandboxes at 5 ms), with the waits
that would make a run last hours shortened (CHAOS_SETTINGS). Phases:

1. load (deploy/local/chaos/workload.py) for --load-seconds while the faults of
   deploy/local/chaos/faults.py run on their schedule, and bank transfers settle;
2. recovery: every key without a final answer is sent again until it has one, every
   bank transfer still pending settles, and the gateways finish their sagas, settlement
   watches, outbox and event publication (each bounded);
3. the invariants (deploy/local/chaos/invariants.py) over the sandboxes' databases, the
   gateway's database, the run's event queue and HAProxy's log; the report is written to
   --out (chaos.json, chaos.md, chaos.png). Exit status 0 when every invariant held.

Measured on the 2-core machine (shared, busy): 385 s in all, within the 15 minutes asked;
the phases are bounded (load 250 s, retries 180 s, draining 150 s, start-up about 60 s).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.procs import Processes, stopped_on_signals
from deploy.local.backing import database_urls
from deploy.local.banner import OWNER
from deploy.local.chaos import faults, invariants, report, state
from deploy.local.chaos.subscriptions import Followed, follow
from deploy.local.chaos.workload import Ledger, Workload
from deploy.local.cluster import ClusterError, Options, Running, cluster
from deploy.local.private import Private, PrivateError
from deploy.local.topology import PAYMENTS_TOKEN, REPO_ROOT, url
from sandbox.seed import GB_BUSINESS_ID

DEFAULT_OUT = REPO_ROOT / "deploy" / "local" / "reports"
# Production values would keep a run waiting: the relay leaves a saga to its request for
# 30 s, and the settler first looks again at a pending payment after 30 s, then backs off
# to an hour. Rate limits are per user, and the whole load is one user's.
CHAOS_SETTINGS = {
    "RELAY_GRACE_SECONDS": "10",
    "SETTLEMENT_POLL_SECONDS": "2",
    "SETTLEMENT_MAX_BACKOFF_SECONDS": "10",
    "SETTLEMENT_CALLS_PER_SECOND": "50",
    "RATE_LIMIT_CAPACITY": "100000",
    "RATE_LIMIT_REFILL_PER_SECOND": "10000",
}
RETRY_SECONDS = 180.0
DRAIN_SECONDS = 150.0
# A saga not finished this long after its last change is stuck: its lease (30 s) and the
# relay's grace (10 s) have both run out, with a margin for the relay's round.
SAGA_BOUND_SECONDS = 60.0


SUBSCRIBERS = 3


async def _load(
    world: faults.World, workload: Workload, load_seconds: float, workers: int
) -> Followed:
    """The load, the banks settling and the dashboards subscribed, for `load_seconds`."""
    stop = asyncio.Event()
    running = world.running
    followed = Followed()
    ws_url = f"ws://127.0.0.1:{running.ports.lb}/graphql"
    tasks = [
        asyncio.create_task(workload.run(workers, stop)),
        asyncio.create_task(
            workload.settle_pending(url(running.ports.payments), PAYMENTS_TOKEN, stop)
        ),
        *(
            asyncio.create_task(
                follow(ws_url, running.tokens[OWNER], GB_BUSINESS_ID, followed, stop)
            )
            for _ in range(SUBSCRIBERS)
        ),
    ]
    await asyncio.sleep(max(0.0, load_seconds - workload.ledger.now()))
    stop.set()
    await asyncio.gather(*tasks)
    return followed


async def _recover(running: Running, private: Private, workload: Workload) -> dict[str, Any]:
    """Phase 2; returns how long each part took."""
    began = time.monotonic()
    settling = asyncio.Event()
    # Banks go on settling while the client retries: a payment refused for another
    # one pending on its invoice waits for that one to settle.
    settler = asyncio.create_task(
        workload.settle_pending(url(running.ports.payments), PAYMENTS_TOKEN, settling)
    )
    try:
        never = await workload.finish(RETRY_SECONDS)
    finally:
        settling.set()
        await settler
    retried = time.monotonic() - began
    dsn = database_urls(private.postgres_url, "chaos")[0]
    payments_db = running.run_dir / "sandbox-payments.db"
    async with httpx.AsyncClient(
        timeout=5, trust_env=False, headers={"Authorization": f"Bearer {PAYMENTS_TOKEN}"}
    ) as admin:
        deadline = time.monotonic() + DRAIN_SECONDS
        while True:
            for payment_id in state.pending_run_payments(payments_db):
                workload.ledger.pending.setdefault(payment_id, -60.0)
            await workload.settle_due(admin, url(running.ports.payments), older_than=0.0)
            sagas, watches, open_outbox, _, unpublished = await state.gateway_state(dsn)
            busy = (
                sum(s.status == invariants.UNFINISHED_SAGA for s in sagas)
                + sum(w.state != invariants.FINISHED_WATCH for w in watches)
                + open_outbox
                + unpublished
            )
            if busy == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(2.0)
    return {
        "keys_never_answered": len(never),
        "retry_phase_seconds": round(retried, 1),
        "drain_phase_seconds": round(time.monotonic() - began - retried, 1),
    }


async def _check(
    running: Running,
    private: Private,
    ledger: Ledger,
    errors: Counter[str],
    world: faults.World,
    started: float,
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    dsn = database_urls(private.postgres_url, "chaos")[0]
    invoices = state.invoices(running.run_dir / "sandbox-invoicing.db")
    payments = state.payments(running.run_dir / "sandbox-payments.db")
    run_payments = state.run_payment_ids(payments)
    sagas, watches, open_outbox, recorded, unpublished = await state.gateway_state(dsn)
    consumed = await state.drain_queue(private.amqp_url)
    lb_lines = state.balancer_log(running.run_dir / "haproxy.log", started)
    findings = {
        "no invoice collected over its total": invariants.over_collected(invoices, payments),
        "every succeeded payment recorded exactly once": invariants.recorded_once(
            invoices, payments, run_payments
        ),
        "no double charge for one idempotency key": invariants.double_charges(
            payments, run_payments, ledger.answers, sagas
        ),
        "every key answered consistently": invariants.inconsistent_answers(ledger.answers)
        + invariants.unanswered(ledger.answers),
        "no domain event lost": invariants.lost_events(recorded, consumed),
        "no saga left unfinished past its bound": invariants.unfinished(
            sagas, watches, open_outbox, SAGA_BOUND_SECONDS
        ),
        "no 5xx from the balancer while a gateway was up": invariants.balancer_errors(
            lb_lines, world.no_gateway_up
        ),
    }
    statuses = [payments[p].status for p in run_payments]
    facts = {
        "payments taken": len(run_payments),
        "succeeded / pending / failed": (
            f"{statuses.count('succeeded')} / {statuses.count('pending')}"
            f" / {statuses.count('failed')}"
        ),
        "refunded in full": sum(
            payments[p].amount_refunded == payments[p].amount for p in run_payments
        ),
        "idempotency keys sent": len(ledger.sent),
        "answers by userError code (replays included)": dict(
            Counter(code for answer in ledger.answers for code in answer.codes).most_common()
        ),
        "GraphQL errors by message": dict(errors.most_common(8)),
        "mutation answers": len(ledger.answers),
        "sagas in the gateway": len(sagas),
        "domain events recorded / reached the run's queue (with duplicates)": (
            f"{len(recorded)} / {len(consumed)}"
        ),
        "events unpublished at the end": unpublished,
        "balancer log lines / 5xx / of them with no gateway up": (
            f"{len(lb_lines)} / {sum(x.status >= 500 for x in lb_lines)}"
            f" / {sum(x.status >= 500 and x.server == '<NOSRV>' for x in lb_lines)}"
        ),
        "requests the balancer resent to another gateway": state.resent(
            running.run_dir / "haproxy.log"
        ),
        "windows with no gateway up (s)": [
            (round(a, 1), round(b, 1)) for a, b in world.no_gateway_up
        ],
    }
    return findings, facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.chaos.run", description=__doc__)
    parser.add_argument("--load-seconds", type=float, default=faults.LOAD_SECONDS)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    args = parser.parse_args(argv)
    run_began = time.monotonic()
    started_text = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    root = Path(tempfile.mkdtemp(prefix="chaos-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres and rabbitmq users enter it
    servers = Processes(root)
    private = Private(root, servers)
    code = 1
    with stopped_on_signals():
        try:
            private.start_all()
            asyncio.run(state.bind_queue(private.amqp_url))
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
                print(
                    f"cluster up (run directory {root}); load for {args.load_seconds:.0f}s",
                    flush=True,
                )
                code = _chaos(running, private, args, started_text, run_began)
        except (ClusterError, PrivateError) as exc:
            print(f"error: {exc}", file=sys.stderr)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
        finally:
            private.stop_all()
            servers.stop_all()
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    return code


async def _drive(
    running: Running,
    private: Private,
    args: argparse.Namespace,
    ledger: Ledger,
    world: faults.World,
    schedule: threading.Thread,
    started_epoch: float,
) -> tuple[dict[str, Any], dict[str, list[str]], dict[str, Any]]:
    workload = Workload(url(running.ports.lb), running.tokens[OWNER], ledger)
    try:
        followed = await _load(world, workload, args.load_seconds, args.workers)
        await asyncio.to_thread(schedule.join)  # the last fault heals before recovery
        print("load over; recovering", flush=True)
        began = ledger.now()
        recovery = await _recover(running, private, workload)
        world.marks.append(
            faults.Mark("recovery: retries, settling, draining", began, ledger.now())
        )
        findings, facts = await _check(
            running, private, ledger, workload.errors, world, started_epoch
        )
        invoice_events = await state.invoice_event_count(
            database_urls(private.postgres_url, "chaos")[0], GB_BUSINESS_ID
        )
        facts["subscribers: invoice events seen (load) / recorded (run); connections; ends"] = (
            f"{len(followed.event_ids)} / {invoice_events}; {followed.connections};"
            f" {dict(Counter(followed.ended))}"
        )
    finally:
        await workload.close()
    return recovery, findings, facts


def _chaos(
    running: Running, private: Private, args: argparse.Namespace, started: str, began: float
) -> int:
    ledger = Ledger()
    started_epoch = time.time() - ledger.now()
    world = faults.World(running, private, ledger.now)
    stop = threading.Event()
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=faults.run_schedule, args=(world, args.load_seconds, stop, errors)),
        threading.Thread(target=faults.watch_balancer, args=(world, stop)),
    ]
    for thread in threads:
        thread.start()
    try:
        recovery, findings, facts = asyncio.run(
            _drive(running, private, args, ledger, world, threads[0], started_epoch)
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if errors:
        findings["every fault injected and healed"] = [repr(e) for e in errors]
    facts = {
        "started": started,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "load_seconds": args.load_seconds,
        "run_seconds": round(time.monotonic() - began),
        **recovery,
        **facts,
    }
    summary = report.summarize(ledger.samples, world.marks, findings, facts, args.load_seconds)
    report.write(summary, args.out)
    print(report.markdown(summary), flush=True)
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
