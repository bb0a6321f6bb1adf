"""The benchmark harness's own logic: percentiles, wrk's result line, the downstream call
accounting that decides "exactly minimal", answer checks and the report's budget."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest

from bench.flame import summarise
from bench.report import budget, markdown, ratios
from bench.scenarios import DASHBOARD, PAY, ShapeError, check_answer, normalised_call
from bench.stats import WrkOutputError, account_calls, answered, parse_wrk, percentile


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([3.0, 1.0, 2.0], 50) == 2
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile(values, 101)


WRK_LINE = (
    'BENCH_JSON {"requests":1200,"duration_us":10000000,"bytes":5,'
    '"errors":{"connect":0,"read":0,"write":0,"status":2,"timeout":1},'
    '"bad":3,"bad_sample":"500 boom","latency_us":{"min":900,"max":90000,"mean":12000.5,'
    '"p50":10000,"p90":20000,"p99":45000,"p999":80000}}'
)


def test_the_wrk_result_line_is_read_with_rate_latency_and_every_failure() -> None:
    result = parse_wrk(f"Running 10s test\n{WRK_LINE}\n")

    assert result.requests == 1200
    assert result.rate == 120
    assert result.latency_ms["p50_ms"] == 10
    assert result.latency_ms["p99_ms"] == 45
    assert result.bad_sample == "500 boom"
    # Bad answers and transport errors alike void a run.
    assert result.failures == 3 + 2 + 1


@pytest.mark.parametrize(
    "output", ["", "no marker here", f"{WRK_LINE}\n{WRK_LINE}", "BENCH_JSON {"]
)
def test_a_missing_doubled_or_broken_wrk_result_is_an_error(output: str) -> None:
    with pytest.raises(WrkOutputError):
        parse_wrk(output)


def call(method: str, path: str, request_id: str | None) -> dict[str, Any]:
    return {"method": method, "path": path, "headers": {"x-request-id": request_id}}


MINIMAL = Counter({"GET /v1/invoices": 1, "GET /v1/customers": 1})


def test_calls_are_accounted_request_by_request() -> None:
    calls = [
        call("GET", "/v1/invoices", "r1"),
        call("GET", "/v1/customers", "r1"),
        call("GET", "/v1/invoices", "r2"),
        call("GET", "/v1/customers", "r2"),
        call("GET", "/v1/customers", "r2"),
        call("GET", "/v1/invoices", "r3"),
    ]

    account = account_calls(calls, MINIMAL)

    assert (account.requests, account.calls, account.exact) == (3, 6, 1)
    assert (account.over, account.under) == (1, 1)
    assert account.extra_calls == {"GET /v1/customers": 1}
    assert account.missing_calls == {"GET /v1/customers": 1}
    assert account.per_request == 2
    assert not account.all_minimal


def test_all_minimal_needs_every_request_exact_and_every_call_traced() -> None:
    exact = [call("GET", "/v1/invoices", "r1"), call("GET", "/v1/customers", "r1")]
    assert account_calls(exact, MINIMAL).all_minimal
    untraced = [*exact, call("GET", "/v1/invoices", None)]
    assert not account_calls(untraced, MINIMAL).all_minimal
    assert not account_calls([], MINIMAL).all_minimal


def test_requests_that_shared_a_read_are_under_the_minimal_never_over() -> None:
    # given r2's invoice read shared with r1's (single flight: one call, r1's id)
    shared = [
        call("GET", "/v1/invoices", "r1"),
        call("GET", "/v1/customers", "r1"),
        call("GET", "/v1/customers", "r2"),
    ]
    account = account_calls(shared, MINIMAL)
    assert (account.all_minimal, account.none_over_minimal) == (False, True)
    # and a request with a call beyond the minimal is over, shared or not
    over = [*shared, call("GET", "/v1/customers", "r2")]
    assert account_calls(over, MINIMAL).none_over_minimal is False
    assert account_calls([*shared, call("GET", "/v1/x", None)], MINIMAL).none_over_minimal is False


def test_cpu_per_request_divides_by_what_the_load_generator_had_answered() -> None:
    # given a phase of 3 answered requests of which only r1 made downstream calls
    shared_by_all = [call("GET", "/v1/invoices", "r1"), call("GET", "/v1/customers", "r1")]
    assert account_calls(shared_by_all, MINIMAL).requests == 1
    # then the phase served 3 (closed loop: wrk's count; open loop: those completed)
    assert answered({"requests": 3, "rate": 1.0}) == 3
    assert answered({"completed": 3, "sent": 4}) == 3


def test_ids_in_paths_are_normalised_but_collection_paths_are_not() -> None:
    assert normalised_call("POST", "/v1/invoices/inv_abc/payments") == (
        "POST /v1/invoices/{id}/payments"
    )
    assert normalised_call("GET", "/v1/invoices") == "GET /v1/invoices"
    assert normalised_call("GET", "/_sandbox/calls") == "GET /_sandbox/calls"


def test_answers_with_errors_wrong_status_or_wrong_shape_are_refused() -> None:
    with pytest.raises(ShapeError, match="HTTP 500"):
        check_answer(DASHBOARD, 500, {})
    with pytest.raises(ShapeError, match="errors"):
        check_answer(DASHBOARD, 200, {"data": None, "errors": [{"message": "x"}]})
    with pytest.raises(ShapeError, match="business"):
        check_answer(DASHBOARD, 200, {"data": {"business": None}})
    with pytest.raises(ShapeError, match="replayed"):
        check_answer(
            PAY,
            200,
            {"data": {"payInvoice": {"userErrors": [], "replayed": True, "payment": None}}},
        )


def target(rate: float, p50: float, all_minimal: bool = True) -> dict[str, Any]:
    phase = {
        "latency": {"p50_ms": p50, "p99_ms": 2 * p50},
        "server_cpu_ms_per_request": 1000 / rate,
        "calls": {
            "per_request": 6.0,
            "all_minimal": all_minimal,
            "none_over_minimal": all_minimal,
        },
        "server_busy": 1.0,
        "load_side_busy": 0.5,
        "rate": rate,
    }
    return {
        "workers": 1,
        "rate_per_worker": rate,
        "one_connection": phase,
        "saturation": phase,
        "at_70_percent": phase,
        "curve": [phase],
        "peak_rss_mb": 100.0,
    }


def scenario_with(gateway: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    targets = {"gateway": gateway, "baseline": baseline}
    return {
        "key": "a",
        "name": "dashboard",
        "minimal_calls": 6,
        "targets": targets,
        "ratios": ratios(gateway, baseline),
    }


def test_the_budget_holds_at_the_thresholds_and_fails_past_them() -> None:
    ok = scenario_with(target(35, 13.0), target(100, 10))
    checks = budget(ok, None)
    assert checks["throughput_at_least_35_percent_of_baseline"]["ok"] is True
    assert checks["p50_one_connection_at_most_1_3x_baseline"]["ok"] is True
    assert checks["calls_at_most_minimal_at_32_connections"]["ok"] is True
    assert checks["rss_flat_over_10_minutes"]["ok"] is None

    bad = scenario_with(target(34, 13.1, all_minimal=False), target(100, 10))
    checks = budget(bad, {"flat": False, "growth_mb": 40.0})
    assert not any(check["ok"] for check in checks.values())


def test_the_markdown_report_has_a_row_per_server_and_the_ratios() -> None:
    scenario = scenario_with(target(35, 12), target(100, 10))
    scenario["budget"] = budget(scenario, None)
    report = {
        "started": "now",
        "commit": "abc",
        "machine": {
            "cpu": "cpu",
            "cpus": 2,
            "memory_gb": 1.0,
            "python": "3.11",
            "loadavg_at_start": "0",
        },
        "settings": {"latency_ms": 5, "quick": True, "pinning": "none"},
        "scenarios": {"a": scenario},
        "problems": ["something odd"],
    }

    text = markdown(report)

    assert "| a) dashboard | gateway | 35 |" in text
    assert "| a) dashboard | baseline | 100 |" in text
    assert "0.35×" in text
    assert "PASS throughput at least 35 percent of baseline" in text
    assert "- something odd" in text


def test_a_profile_summary_attributes_samples_to_areas() -> None:
    collapsed = (
        "main (uvicorn/main.py:1);execute (graphql/execution/executor.py:5) 3\n"
        "main (uvicorn/main.py:1);validate (pydantic/main.py:7) 1\n"
    )

    summary = summarise(collapsed)

    assert "75.0%  graphql-core" in summary
    assert "25.0%  pydantic" in summary
    assert "100.0%  uvicorn" in summary
    assert summarise("") == "no samples\n"


def test_rss_is_flat_unless_the_last_minute_grew_past_five_percent_or_ten_mb() -> None:
    from bench.soak import flatness

    steady = [(float(t), 100.0 + (t % 3)) for t in range(0, 600, 5)]
    assert flatness(steady)["flat"] is True
    leaking = [(float(t), 100.0 + t / 20) for t in range(0, 600, 5)]
    result = flatness(leaking)
    assert result["flat"] is False
    assert result["growth_mb"] > 20
    assert flatness([])["flat"] is False
