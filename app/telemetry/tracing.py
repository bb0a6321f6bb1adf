"""OpenTelemetry traces: a server span per GraphQL request and a client span per
downstream HTTP exchange, exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set and
not at all otherwise (no provider, no per-call cost).

Spans are parented explicitly through W3C traceparent strings rather than through the
ambient context: the client boundary receives the request's traceparent in its CallMeta
and hands the downstream service the traceparent of its own span."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Span, SpanKind, Tracer, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()


class Tracing:
    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider
        self.tracer: Tracer = provider.get_tracer("fintech-gateway")

    def start(self, name: str, kind: SpanKind, parent: str | None) -> Span:
        context = _PROPAGATOR.extract({"traceparent": parent}) if parent else None
        return self.tracer.start_span(name, context=context, kind=kind)

    def shutdown(self) -> None:
        self._provider.shutdown()


def traceparent_of(span: Span) -> str | None:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=set_span_in_context(span))
    return carrier.get("traceparent")


def build_tracing(
    service_name: str,
    otlp_endpoint: str | None,
    exporter: SpanExporter | None = None,
) -> Tracing | None:
    """None unless there is somewhere to send spans. `exporter` is the test seam (an
    in-memory exporter, exported synchronously)."""
    if exporter is None and not otlp_endpoint:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        # Imported here: the exporter loads protobuf, which a gateway without tracing
        # never needs.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = f"{otlp_endpoint.rstrip('/')}/v1/traces" if otlp_endpoint else None
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return Tracing(provider)
