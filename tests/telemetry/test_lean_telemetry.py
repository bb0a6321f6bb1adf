"""The request path's telemetry, made cheaper without changing what it records: log
values redacted exactly as before (the literal check only skips substitutions that could
not match), and metric children remembered per label values."""

from __future__ import annotations

import json
import logging
import re

import pytest

from app.telemetry.logs import REDACTED, JsonFormatter, redact
from app.telemetry.metrics import Metrics

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")


def substituted(text: str) -> str:
    """The redaction before the literal check: both substitutions, always."""
    return _BEARER.sub(f"Bearer {REDACTED}", _JWT.sub(REDACTED, text))


@pytest.mark.parametrize(
    "text",
    [
        "usr_123",
        "",
        "Bearer abc.def",
        "BEARER abc",
        "bEaReR\tabc",
        "x eyJhbGciOi.eyJzdWIiOi.sig y",
        "eyJ too short",
        "é bearer ünïcode abc",
        "İ BEARER K abc",  # characters whose case folds oddly
        "no credentials here, only bear and er",
    ],
)
def test_redaction_is_the_same_with_the_literal_check(text: str) -> None:
    assert redact(text) == substituted(text)


def test_a_request_line_redacts_credential_fields_and_values() -> None:
    record = logging.LogRecord(
        "gateway.requests", logging.INFO, "x", 1, "graphql request", None, None
    )
    record.sub = "usr_1"
    record.authorization = "anything"
    record.note = "Bearer abc.def"
    record.nested = {"token": "x", "ok": ["eyJaaaaaa.bbbbbbb.c"]}

    entry = json.loads(JsonFormatter().format(record))

    assert entry["sub"] == "usr_1"
    assert entry["authorization"] == REDACTED
    assert entry["note"] == f"Bearer {REDACTED}"
    assert entry["nested"] == {"token": REDACTED, "ok": [REDACTED]}


def test_metric_children_are_remembered_and_count_as_the_metric_does() -> None:
    metrics = Metrics()

    first = metrics.downstream_calls_by("invoicing", "GET", "/v1/x", "200", "ok")
    first.inc()
    metrics.downstream_calls_by("invoicing", "GET", "/v1/x", "200", "ok").inc()

    assert metrics.downstream_calls_by("invoicing", "GET", "/v1/x", "200", "ok") is first
    labels = {"service": "invoicing", "method": "GET", "route": "/v1/x"}
    value = metrics.registry.get_sample_value(
        "gateway_downstream_calls_total", {**labels, "status": "200", "outcome": "ok"}
    )
    assert value == 2
