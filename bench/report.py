"""The run's report: ratios (the gateway's to the baseline, and to the Apollo peer where it
ran) and budget, then JSON, a Markdown table and a PNG chart."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

# Scenario (a), per worker, in one run (the budget).
BUDGET_THROUGHPUT_RATIO = 0.35
BUDGET_P50_RATIO = 1.3


def _get(target: dict[str, Any] | None, *path: str) -> float:
    value: Any = target
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return math.nan
        value = value[name]
    return float(value) if isinstance(value, int | float) else math.nan


def ratios(gateway: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float]:
    def ratio(*path: str) -> float:
        denominator = _get(baseline, *path)
        return _get(gateway, *path) / denominator if denominator else math.nan

    return {
        "throughput_per_worker": ratio("rate_per_worker"),
        "p50_one_connection": ratio("one_connection", "latency", "p50_ms"),
        "p99_one_connection": ratio("one_connection", "latency", "p99_ms"),
        "p50_at_70_percent": ratio("at_70_percent", "latency", "p50_ms"),
        "p99_at_70_percent": ratio("at_70_percent", "latency", "p99_ms"),
        "cpu_ms_per_request": ratio("saturation", "server_cpu_ms_per_request"),
        "peak_rss": ratio("peak_rss_mb"),
    }


def budget(scenario: dict[str, Any], soak: dict[str, Any] | None) -> dict[str, Any]:
    targets = scenario["targets"]
    gateway, baseline = targets.get("gateway"), targets.get("baseline")
    if gateway is None or baseline is None:
        return {}
    r = scenario["ratios"]
    saturation_calls = gateway["saturation"]["calls"]
    to_peer = scenario.get("ratios_to_peer")
    checks = {
        "throughput_at_least_35_percent_of_baseline": r["throughput_per_worker"]
        >= BUDGET_THROUGHPUT_RATIO,
        "p50_one_connection_at_most_1_3x_baseline": r["p50_one_connection"] <= BUDGET_P50_RATIO,
        "calls_at_most_minimal_at_32_connections": bool(
            saturation_calls.get("none_over_minimal", saturation_calls["all_minimal"])
        ),
    }
    result: dict[str, Any] = {name: {"ok": ok} for name, ok in checks.items()}
    result["throughput_at_least_35_percent_of_baseline"]["value"] = r["throughput_per_worker"]
    result["p50_one_connection_at_most_1_3x_baseline"]["value"] = r["p50_one_connection"]
    result["calls_at_most_minimal_at_32_connections"]["value"] = saturation_calls["per_request"]
    if to_peer:
        # The bar: ahead of the Apollo peer in the same run, requests/s per worker.
        throughput = to_peer["throughput_per_worker"]
        result["throughput_ahead_of_the_apollo_peer"] = {
            "ok": throughput > 1.0 if not math.isnan(throughput) else None,
            "value": throughput,
        }
    result["rss_flat_over_10_minutes"] = (
        {
            "ok": soak["flat"],
            "value": soak["growth_mb"],
            "note": f"RSS growth in MB, from make bench-soak at {soak.get('started', '?')}",
        }
        if soak
        else {"ok": None, "value": None, "note": "not part of this run: make bench-soak"}
    )
    return result


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}"


def _x(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.2f}×"


def markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        f"# Benchmark {report['started']}",
        "",
        f"Machine: {machine['cpu']} ({machine['cpus']} CPUs), {machine['memory_gb']:.0f} GB, "
        f"Python {machine['python']}, load average at start {machine['loadavg_at_start']}. "
        f"Commit {report['commit']}. Downstream latency {report['settings']['latency_ms']} ms "
        f"per call; {'quick' if report['settings']['quick'] else 'full'} mode; pinning: "
        f"{report['settings']['pinning']}; gateway "
        f"{report['settings'].get('gateway_variant', 'as shipped')}.",
        "",
        "| scenario | server | req/s per worker (32 conn) | p50 / p99 ms, 1 conn | "
        "p50 / p99 ms at 70% | calls/req (minimal) | CPU ms/req | peak RSS MB | "
        "server / load-side busy |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in report["scenarios"].values():
        minimal = scenario["minimal_calls"]
        for name, t in scenario["targets"].items():
            sat, one, loaded = t["saturation"], t["one_connection"], t["at_70_percent"]
            exact = (
                ""
                if sat["calls"]["all_minimal"]
                else " ≤"
                if sat["calls"].get("none_over_minimal")
                else " ≠"
            )
            lines.append(
                f"| {scenario['key']}) {scenario['name']} | {name} | {t['rate_per_worker']:.0f} | "
                f"{_ms(one['latency']['p50_ms'])} / {_ms(one['latency']['p99_ms'])} | "
                f"{_ms(loaded['latency']['p50_ms'])} / {_ms(loaded['latency']['p99_ms'])} | "
                f"{sat['calls']['per_request']:.2f}{exact} ({minimal}) | "
                f"{_ms(sat['server_cpu_ms_per_request'])} | {t['peak_rss_mb']:.0f} | "
                f"{sat['server_busy'] * 100:.0f}% / {sat['load_side_busy'] * 100:.0f}% |"
            )
        for key, against in (("ratios", "baseline"), ("ratios_to_peer", "apollo")):
            r = scenario.get(key)
            if r:
                lines.append(
                    f"| {scenario['key']}) {scenario['name']} | **gateway ÷ {against}** | "
                    f"{_x(r['throughput_per_worker'])} | {_x(r['p50_one_connection'])} / "
                    f"{_x(r['p99_one_connection'])} | {_x(r['p50_at_70_percent'])} / "
                    f"{_x(r['p99_at_70_percent'])} | | {_x(r['cpu_ms_per_request'])} | "
                    f"{_x(r['peak_rss'])} | |"
                )
    budget_a = report["scenarios"].get("a", {}).get("budget")
    if budget_a:
        lines += ["", "Budget, scenario (a), per worker:", ""]
        for name, check in budget_a.items():
            mark = {True: "PASS", False: "FAIL", None: "n/a"}[check["ok"]]
            value = check.get("value")
            shown = f" ({value:.2f})" if isinstance(value, float) else ""
            note = f" — {check['note']}" if "note" in check else ""
            lines.append(f"- {mark} {name.replace('_', ' ')}{shown}{note}")
    if report["problems"]:
        lines += ["", "Warnings:", ""] + [f"- {p}" for p in report["problems"]]
    lines += [
        "",
        "Latency at 70% is open-loop (constant rate, measured from the intended send time). "
        "apollo is the Apollo Server 5 + DataLoader peer (bench/peers/apollo/), on the same "
        "CPU, sandboxes and load; its answers are checked equal to the gateway's. "
        "'≠' marks a phase where some request made more than the minimal downstream calls; "
        "'≤' one where none did and some shared an identical read in flight for another "
        "(single flight). "
        "Load-side busy above ~90% means the sandboxes and load generator, not the server, "
        "set the pace.",
    ]
    return "\n".join(lines) + "\n"


def chart(report: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    scenarios = list(report["scenarios"].values())
    columns = min(2, len(scenarios))
    rows = math.ceil(len(scenarios) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(6.5 * columns, 4.2 * rows), squeeze=False)
    colours = {
        "gateway": "tab:blue",
        "baseline": "tab:orange",
        "gateway_2w": "tab:green",
        "apollo": "tab:red",
    }
    for axis, scenario in zip(axes.flat, scenarios, strict=False):
        for name, target in scenario["targets"].items():
            points = sorted(
                [target["one_connection"], *target["curve"]], key=lambda p: float(p["rate"])
            )
            rates = [p["rate"] / target["workers"] for p in points]
            colour = colours.get(name, "tab:gray")
            axis.plot(
                rates,
                [p["latency"]["p50_ms"] for p in points],
                "o-",
                color=colour,
                label=f"{name} p50",
            )
            axis.plot(
                rates,
                [p["latency"]["p99_ms"] for p in points],
                "x--",
                color=colour,
                label=f"{name} p99",
            )
        axis.set_title(f"({scenario['key']}) {scenario['name']}")
        axis.set_xlabel("requests/s per worker (1 connection, then open-loop rates)")
        axis.set_ylabel("latency ms")
        axis.set_yscale("log")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    for axis in list(axes.flat)[len(scenarios) :]:
        axis.set_visible(False)
    figure.suptitle(
        f"Latency vs load, {report['settings']['latency_ms']} ms per downstream call, "
        f"{report['started']}"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write(report: dict[str, Any], out_dir: Path) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "latest.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    table = markdown(report)
    (out_dir / "latest.md").write_text(table)
    chart(report, out_dir / "latency.png")
    return table
