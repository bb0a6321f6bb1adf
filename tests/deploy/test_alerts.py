"""deploy/prometheus/alerts.yaml parses as Prometheus rule groups, every alert says how
bad and where its runbook is (a section of docs/operations.md that exists), and every
metric it reads is one the gateway exports, by the name Prometheus sees."""

from __future__ import annotations

import re

import yaml

from app.telemetry.metrics import Metrics
from tests.deploy.manifests import DEPLOY_DIR
from tests.paths import REPO_ROOT

ALERTS = DEPLOY_DIR / "prometheus" / "alerts.yaml"
OPERATIONS = REPO_ROOT / "docs" / "operations.md"
# Recorded by Prometheus itself for every scrape target.
PROMETHEUS_METRICS = frozenset({"up"})
PROMQL_WORDS = frozenset(
    {
        "sum", "max", "min", "avg", "count", "by", "without", "rate", "increase",
        "histogram_quantile", "and", "or", "unless", "on", "ignoring", "bool", "offset",
    }
)  # fmt: skip
SEVERITIES = frozenset({"critical", "warning", "info"})


def exported_metrics() -> frozenset[str]:
    """The series names the app's registry exposes: counters as _total, histograms as
    _bucket, _sum and _count (prometheus_client's text format)."""
    metrics = Metrics()
    metrics.watch_rate_limits({}, {})
    names: set[str] = set()
    for family in metrics.registry.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names |= {family.name + suffix for suffix in ("_bucket", "_sum", "_count")}
        else:
            names.add(family.name)
    return frozenset(names)


def metric_names(expression: str) -> set[str]:
    """The series an expression reads: identifiers left once label matchers, grouping
    clauses, ranges, strings and numbers are taken out."""
    stripped = re.sub(r'"[^"]*"', "", expression)
    stripped = re.sub(r"\{[^}]*\}", "", stripped)
    stripped = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", stripped)
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", stripped))
    return words - PROMQL_WORDS


def _rules() -> list[dict[str, object]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    assert set(document) == {"groups"}
    rules: list[dict[str, object]] = []
    for group in document["groups"]:
        assert set(group) == {"name", "rules"}
        rules += group["rules"]
    return rules


def _anchors() -> set[str]:
    """GitHub's heading anchors of docs/operations.md."""
    anchors = set()
    for line in OPERATIONS.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            title = re.sub(r"[^\w\- ]", "", title)
            anchors.add(title.replace(" ", "-"))
    return anchors


def test_the_rules_file_has_named_alerts_with_severity_and_runbook() -> None:
    rules = _rules()
    assert len(rules) >= 12
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        labels = rule["labels"]
        assert isinstance(labels, dict)
        assert labels["severity"] in SEVERITIES
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        assert annotations["summary"]
        path, anchor = str(annotations["runbook_url"]).split("#")
        assert path == "docs/operations.md"
        assert anchor in _anchors(), f"{rule['alert']}: no section #{anchor}"


def test_every_metric_an_alert_reads_is_exported() -> None:
    known = exported_metrics() | PROMETHEUS_METRICS
    for rule in _rules():
        unknown = metric_names(str(rule["expr"])) - known
        assert unknown == set(), f"{rule['alert']}: {sorted(unknown)}"


def test_the_alerts_cover_the_faults_of_the_runbook() -> None:
    # The metrics an operator needs for each fault are each watched by some alert.
    read = set().union(*(metric_names(str(rule["expr"])) for rule in _rules()))
    assert {
        "up",
        "gateway_requests_total",
        "gateway_request_duration_seconds_bucket",
        "gateway_circuit_breaker_state",
        "gateway_downstream_calls_total",
        "gateway_rate_limit_backend_failures_total",
        "gateway_rate_limit_rejections_total",
        "gateway_pending_payment_oldest_age_seconds",
        "gateway_settlements_total",
        "gateway_reconcile_drift",
        "gateway_events_oldest_unpublished_age_seconds",
        "gateway_events_backlog",
    } <= read


def test_the_metric_name_check_finds_an_unknown_metric() -> None:
    # Given an expression with a misspelt metric, then it is reported (the check above
    # is not vacuous), and label names, functions and ranges are not.
    names = metric_names(
        'sum by (service) (rate(gateway_downstream_call_total{outcome="ok"}[5m])) > 0.5'
    )
    assert names == {"gateway_downstream_call_total"}
    assert "gateway_downstream_call_total" not in exported_metrics()
    assert "gateway_downstream_calls_total" in exported_metrics()
    assert "gateway_circuit_breaker_state" in exported_metrics()


def test_the_pending_payment_threshold_is_the_settings_default() -> None:
    from app.core.settings import Settings

    default = Settings.model_fields["pending_payment_alert_seconds"].default
    rule = next(r for r in _rules() if r["alert"] == "PaymentPendingTooLong")
    assert str(rule["expr"]).rstrip().endswith(f"> {int(default)}")
