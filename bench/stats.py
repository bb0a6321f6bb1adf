"""Pure helpers of the harness: percentiles, wrk's output, downstream call accounting.
No I/O, so tests/bench can hold them to their definitions."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.scenarios import normalised_call

WRK_MARKER = "BENCH_JSON "


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (the smallest value with at least q% of values at or
    below it), as HdrHistogram and wrk report it; NaN for no values."""
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def summarise_ms(values_s: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max of latencies given in seconds, in milliseconds."""
    ordered = sorted(values_s)
    return {
        "p50_ms": percentile(ordered, 50) * 1000,
        "p90_ms": percentile(ordered, 90) * 1000,
        "p99_ms": percentile(ordered, 99) * 1000,
        "max_ms": (ordered[-1] * 1000) if ordered else math.nan,
    }


class WrkOutputError(ValueError):
    pass


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    errors: dict[str, int]
    bad: int
    bad_sample: str
    latency_ms: dict[str, float]
    window_requests: int = 0
    window_skip_s: float = 0.0

    @property
    def rate(self) -> float:
        """Answers per second: over the window after the ramp when there was one."""
        window = self.duration_s - self.window_skip_s
        if self.window_skip_s > 0 and window > 0:
            return self.window_requests / window
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def failures(self) -> int:
        """Bad answers plus transport errors: any makes the run void."""
        return self.bad + sum(self.errors.values())


def parse_wrk(stdout: str) -> WrkResult:
    """The result line check.lua's done() prints."""
    lines = [line for line in stdout.splitlines() if line.startswith(WRK_MARKER)]
    if len(lines) != 1:
        raise WrkOutputError(f"expected one {WRK_MARKER.strip()} line, found {len(lines)}")
    try:
        raw: dict[str, Any] = json.loads(lines[0][len(WRK_MARKER) :])
        latency = raw["latency_us"]
        return WrkResult(
            requests=int(raw["requests"]),
            duration_s=int(raw["duration_us"]) / 1e6,
            errors={name: int(count) for name, count in raw["errors"].items()},
            bad=int(raw["bad"]),
            bad_sample=str(raw["bad_sample"]),
            window_requests=int(raw.get("window_requests", 0)),
            window_skip_s=float(raw.get("window_skip_s", 0.0)),
            latency_ms={
                f"{name}_ms": float(latency[name]) / 1000
                for name in ("p50", "p90", "p99", "p999", "max", "mean")
            },
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise WrkOutputError(f"unreadable wrk result: {exc}") from exc


@dataclass(frozen=True)
class CallAccount:
    """The downstream calls of a phase, request by request (by X-Request-Id)."""

    requests: int
    calls: int
    exact: int
    over: int
    under: int
    extra_calls: dict[str, int]
    missing_calls: dict[str, int]
    untraced_calls: int

    @property
    def per_request(self) -> float:
        return self.calls / self.requests if self.requests else math.nan

    @property
    def all_minimal(self) -> bool:
        return self.requests > 0 and self.exact == self.requests and self.untraced_calls == 0

    @property
    def none_over_minimal(self) -> bool:
        """No request made a call beyond the minimal set, and every call was traced. Fewer
        is the gateway's single flight (app/downstream/coalesce.py): a request whose read
        was in flight for another shared that exchange, which carries the other's
        X-Request-Id; every answer is still checked byte for byte."""
        return self.requests > 0 and self.over == 0 and self.untraced_calls == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "calls": self.calls,
            "per_request": self.per_request,
            "requests_with_exactly_minimal_calls": self.exact,
            "requests_with_more": self.over,
            "requests_with_fewer": self.under,
            "extra_calls_by_path": self.extra_calls,
            "missing_calls_by_path": self.missing_calls,
            "calls_without_request_id": self.untraced_calls,
            "all_minimal": self.all_minimal,
            "none_over_minimal": self.none_over_minimal,
        }


def answered(phase: Mapping[str, Any]) -> int:
    """The requests a phase's load generator had answered: the denominator of CPU per
    request. Not the requests seen downstream (CallAccount.requests): with single flight a
    request whose reads were all shared with another's makes no call of its own, and
    dividing by those alone overstated the gateway's CPU per request twentyfold."""
    return int(phase["completed"] if "completed" in phase else phase["requests"])


def account_calls(calls: Iterable[Mapping[str, Any]], minimal: Counter[str]) -> CallAccount:
    by_request: dict[str, Counter[str]] = defaultdict(Counter)
    untraced = 0
    total = 0
    for call in calls:
        total += 1
        request_id = (call.get("headers") or {}).get("x-request-id")
        if not request_id:
            untraced += 1
            continue
        by_request[request_id][normalised_call(call["method"], call["path"])] += 1
    exact = over = under = 0
    extra: Counter[str] = Counter()
    missing: Counter[str] = Counter()
    for made in by_request.values():
        if made == minimal:
            exact += 1
            continue
        surplus, shortfall = made - minimal, minimal - made
        extra.update(surplus)
        missing.update(shortfall)
        if surplus:
            over += 1
        else:
            under += 1
    return CallAccount(
        requests=len(by_request),
        calls=total,
        exact=exact,
        over=over,
        under=under,
        extra_calls=dict(extra),
        missing_calls=dict(missing),
        untraced_calls=untraced,
    )
