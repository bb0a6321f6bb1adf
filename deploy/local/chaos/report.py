"""The chaos run's report: JSON (everything), Markdown (for people) and a PNG of latency
and error rate over time with the faults marked.

`summarize` and `markdown` are pure (unit-tested); `write_png` needs matplotlib, the bench
extra's (requirements/bench.lock), imported only there so that `make test` needs none.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from deploy.local.chaos.faults import Mark
from deploy.local.chaos.workload import Sample

BUCKET_SECONDS = 2.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def by_operation(samples: Iterable[Sample]) -> dict[str, dict[str, float]]:
    grouped: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        grouped[sample.operation].append(sample)
    table = {}
    for operation, group in sorted(grouped.items()):
        latencies = [s.latency_ms for s in group]
        table[operation] = {
            "requests": len(group),
            "errors": sum(s.error for s in group),
            "busy": sum(s.busy for s in group),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
        }
    return table


def timeline(samples: Iterable[Sample], bucket: float = BUCKET_SECONDS) -> list[dict[str, float]]:
    """Per bucket of `bucket` seconds: requests, p50 and p95 latency, error rate."""
    buckets: dict[int, list[Sample]] = defaultdict(list)
    for sample in samples:
        buckets[int(sample.at // bucket)].append(sample)
    rows = []
    for index in sorted(buckets):
        group = buckets[index]
        latencies = [s.latency_ms for s in group]
        rows.append(
            {
                "at": index * bucket,
                "requests": len(group),
                "p50_ms": percentile(latencies, 50),
                "p95_ms": percentile(latencies, 95),
                "error_rate": sum(s.error for s in group) / len(group),
                "busy_rate": sum(s.busy for s in group) / len(group),
            }
        )
    return rows


def summarize(
    samples: Sequence[Sample],
    marks: Sequence[Mark],
    findings: Mapping[str, list[str]],
    facts: Mapping[str, Any],
    load_seconds: float = math.inf,
) -> dict[str, Any]:
    """The operations' table is of the load (with its faults); the recovery's retries,
    sent all at once, are in the timeline only."""
    return {
        "passed": not any(findings.values()),
        "invariants": {
            name: {"held": not found, "findings": found} for name, found in findings.items()
        },
        "faults": [asdict(mark) for mark in marks],
        "operations": by_operation(s for s in samples if s.at < load_seconds),
        "facts": dict(facts),
        "timeline": timeline(samples),
    }


def markdown(report: Mapping[str, Any]) -> str:
    verdict = "PASSED" if report["passed"] else "FAILED"
    facts = report["facts"]
    lines = [
        f"# Chaos run: {verdict}",
        "",
        f"{facts.get('started', '')} on {facts.get('machine', 'this machine')};"
        f" load {facts.get('load_seconds', '?')} s, whole run {facts.get('run_seconds', '?')} s."
        " Reproduce with `make chaos` (deploy/local/chaos/run.py).",
        "",
        "![latency and error rate over time, faults shaded](chaos.png)",
        "",
        "## Invariants",
        "",
        "| invariant | held | findings |",
        "|---|---|---|",
    ]
    for name, outcome in report["invariants"].items():
        shown = "; ".join(outcome["findings"][:3]) or "-"
        lines.append(f"| {name} | {'yes' if outcome['held'] else '**no**'} | {shown} |")
    lines += ["", "## Faults (seconds into the run)", "", "| fault | from | to |", "|---|---|---|"]
    for mark in report["faults"]:
        lines.append(f"| {mark['name']} | {mark['start']:.1f} | {mark['end']:.1f} |")
    lines += [
        "",
        "## Requests through the balancer",
        "",
        "Errors: no answer, a 5xx, GraphQL errors, or a mutation's \"outcome unknown, retry"
        ' with the same key" (DOWNSTREAM_UNAVAILABLE). Busy: "another request holds this'
        ' key or invoice, retry" (IDEMPOTENCY_KEY_IN_USE, PAYMENT_IN_PROGRESS,'
        " PAYMENT_PENDING), which the workload's concurrent sends of one key cause. Every"
        " key so answered was sent again until it had a final answer.",
        "",
        "| operation | requests | errors | busy | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for operation, row in report["operations"].items():
        lines.append(
            f"| {operation} | {row['requests']} | {row['errors']} | {row['busy']} | {row['p50_ms']}"
            f" | {row['p95_ms']} | {row['p99_ms']} |"
        )
    lines += ["", "## What the services hold at the end", ""]
    lines += [
        f"- {key}: {value}" for key, value in facts.items() if key not in ("started", "machine")
    ]
    return "\n".join(lines) + "\n"


def write_png(report: Mapping[str, Any], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - the bench extra's, only for the picture

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    rows = report["timeline"]
    at = [row["at"] for row in rows]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    top.plot(at, [row["p50_ms"] for row in rows], label="p50")
    top.plot(at, [row["p95_ms"] for row in rows], label="p95")
    top.set_yscale("log")
    top.set_ylabel("latency (ms)")
    bottom.plot(at, [100 * row["error_rate"] for row in rows], color="tab:red", label="errors")
    bottom.plot(
        at, [100 * row["busy_rate"] for row in rows], color="tab:gray", lw=0.8, label="busy, retry"
    )
    bottom.set_ylabel("% of requests")
    bottom.legend(loc="upper right")
    bottom.set_xlabel("seconds into the run")
    colors = ("tab:purple", "tab:orange", "tab:green", "tab:brown", "tab:pink", "tab:gray")
    for i, mark in enumerate(report["faults"]):
        for axis in (top, bottom):
            axis.axvspan(
                mark["start"], max(mark["end"], mark["start"] + 1), alpha=0.2, color=colors[i % 6]
            )
        top.text(mark["start"], top.get_ylim()[1], mark["name"], fontsize=7, rotation=20, va="top")
    top.legend(loc="upper right")
    verdict = "passed" if report["passed"] else "FAILED"
    figure.suptitle(f"make chaos: 3 gateways behind HAProxy, faults shaded ({verdict})")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write(report: Mapping[str, Any], directory: Path, *, png: bool = True) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "chaos.json").write_text(json.dumps(report, indent=1) + "\n")
    (directory / "chaos.md").write_text(markdown(report))
    if png:
        write_png(report, directory / "chaos.png")
