"""`make soak`'s verdicts (deploy/local/soak.py), without a soak: when RSS is flat, when a
backlog grew, and what the result says."""

from __future__ import annotations

from typing import Any

from deploy.local.soak import flat_backlog, flat_rss, markdown


def test_rss_that_settles_after_warm_up_is_flat() -> None:
    # Given RSS that grows while warming up (the first window) and then holds
    samples = [(0.0, 80.0), (10.0, 100.0), (20.0, 110.0), (30.0, 111.0), (50.0, 112.0)]
    verdict = flat_rss(samples, window_s=20.0)
    assert verdict["flat"] is True
    assert verdict["growth_mb"] == 1.0


def test_rss_that_keeps_growing_is_not_flat() -> None:
    samples = [(float(t), 100.0 + t) for t in range(0, 120, 10)]
    verdict = flat_rss(samples, window_s=20.0)
    assert verdict["flat"] is False
    assert verdict["growth_mb"] > 10


def test_a_backlog_that_comes_and_goes_is_flat_one_that_builds_up_is_not() -> None:
    steady = [(0.0, 3), (10.0, 0), (20.0, 5), (30.0, 2), (40.0, 4)]
    assert flat_backlog(steady, window_s=10.0)["flat"] is True
    growing = [(0.0, 3), (10.0, 0), (20.0, 30), (30.0, 60), (40.0, 90)]
    assert flat_backlog(growing, window_s=10.0) == {"flat": False, "early_max": 3, "late_max": 90}


def _result(**changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "passed": True,
        "started": "2026-12-03 17:00 UTC",
        "machine": "x86_64, 2 cores",
        "minutes": 30,
        "rate_rps": 70.0,
        "fraction": 0.7,
        "saturation_rps": 100.0,
        "sent": 126000,
        "achieved_rps": 70.0,
        "errors": 0,
        "busy_answers": 12,
        "not_started_server_behind": 0,
        "latency_ms": {"p50": 40.0, "p99": 300.0},
        "rss": {
            "gateway-1": {
                "early_median_mb": 100,
                "late_median_mb": 101,
                "growth_mb": 1,
                "flat": True,
            }
        },
        "backlogs": {"outbox": {"early_max": 2, "late_max": 1, "flat": True}},
    }
    return {**result, **changes}


def test_the_result_says_its_verdict_rate_and_each_gateways_memory() -> None:
    text = markdown(_result())
    assert text.startswith("# Soak: PASSED")
    assert (
        "30 min at 70.0 req/s (70% of the 100.0 req/s sustained open loop with p99 within"
        " 1000 ms)" in text
    )
    assert "| gateway-1 | 100 | 101 | 1 | yes |" in text
    assert "| outbox | 2 | 1 | yes |" in text
    assert markdown(_result(passed=False)).startswith("# Soak: FAILED")


def test_the_result_shows_the_ramp_that_found_saturation_and_what_the_bank_settled() -> None:
    ramp = [
        {
            "rate_rps": 10.0,
            "sent": 300,
            "errors": 0,
            "not_started": 0,
            "p99_ms": 80.0,
            "sustained": True,
        },
        {
            "rate_rps": 11.5,
            "sent": 345,
            "errors": 2,
            "not_started": 0,
            "p99_ms": 90.0,
            "sustained": False,
        },
    ]
    text = markdown(_result(ramp=ramp, bank={"settled": 41, "failed_calls": 3}))
    assert "| 10.0 | 300 | 0 | 0 | 80.0 | yes |" in text
    assert "| 11.5 | 345 | 2 | 0 | 90.0 | **no** |" in text
    assert (
        "Bank transfers settled by the soak's bank: 41 (failed settle calls, asked again: 3)"
        in text
    )
