"""Telemetry switches: tracing exists only with somewhere to send spans; the process
entry point's logging writes JSON lines to stderr."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from app.telemetry.logs import JsonFormatter, configure_logging
from app.telemetry.tracing import build_tracing


def test_tracing_is_off_without_an_endpoint() -> None:
    assert build_tracing("fintech-gateway", None) is None


def test_tracing_exports_over_otlp_when_an_endpoint_is_set() -> None:
    tracing = build_tracing("fintech-gateway", "http://127.0.0.1:4318/")

    assert tracing is not None
    processor = tracing._provider._active_span_processor._span_processors[0]
    assert isinstance(processor, BatchSpanProcessor)
    exporter = processor._batch_processor._exporter
    assert isinstance(exporter, OTLPSpanExporter)
    assert exporter._endpoint == "http://127.0.0.1:4318/v1/traces"
    tracing.shutdown()


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    httpx_level = logging.getLogger("httpx").level
    yield root
    root.handlers[:], level = saved
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(httpx_level)
    logging.getLogger("httpcore").setLevel(logging.NOTSET)


def test_json_logging_replaces_the_root_handlers(
    root_logging: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("warning", json_lines=True)

    (handler,) = root_logging.handlers
    assert isinstance(handler.formatter, JsonFormatter)
    assert root_logging.level == logging.WARNING


def test_httpx_request_lines_are_kept_out_at_info(root_logging: logging.Logger) -> None:
    configure_logging("INFO", json_lines=True)

    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)


def test_text_logging_is_plain(root_logging: logging.Logger) -> None:
    configure_logging("INFO", json_lines=False)

    (handler,) = root_logging.handlers
    assert not isinstance(handler.formatter, JsonFormatter)
    record = logging.LogRecord("gateway", logging.INFO, __file__, 1, "hello", None, None)
    assert handler.format(record) == "INFO gateway hello"


def test_an_exception_is_logged_with_its_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "gateway", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )

    line = json.loads(JsonFormatter().format(record))

    assert line["exception"].startswith("Traceback")
    assert "ValueError: boom" in line["exception"]
