"""What a client may learn from an error: a stable `extensions.code` and a message
written for it. Typed errors keep their code; downstream failures become
DOWNSTREAM_UNAVAILABLE (the service did not answer usably), DOWNSTREAM_TIMEOUT,
RATE_LIMITED or DOWNSTREAM_INVALID_RESPONSE (it answered, but what it said breaks its
contract: a whole answer, or one object left out); anything else is masked to a generic
message with the request id, and logged with its traceback here only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionContext

from app.downstream.errors import (
    DownstreamError,
    DownstreamInvalidObjectError,
    DownstreamInvalidResponseError,
    DownstreamRateLimitedError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
)
from app.reads.errors import InvalidInputError
from app.schema.types.reported import collecting

logger = logging.getLogger("gateway.errors")

# `records`: a region's database of money records (app/residency/regions.py).
_SERVICE_NAMES = {"invoicing": "invoicing", "payments": "payments", "records": "payment records"}


def _downstream(error: DownstreamError) -> tuple[str, str, dict[str, object]]:
    service = _SERVICE_NAMES.get(error.service, "a downstream")
    if isinstance(error, DownstreamTimeoutError):
        return "DOWNSTREAM_TIMEOUT", f"The {service} service did not answer in time.", {}
    if isinstance(error, DownstreamRateLimitedError):
        extra: dict[str, object] = {}
        if error.retry_after_seconds is not None:
            extra["retryAfterSeconds"] = error.retry_after_seconds
        return "RATE_LIMITED", f"The {service} service is busy; retry later.", extra
    if isinstance(error, DownstreamInvalidResponseError):
        extra = {}
        if isinstance(error, DownstreamInvalidObjectError) and error.shown_id is not None:
            extra["id"] = error.shown_id
        return (
            "DOWNSTREAM_INVALID_RESPONSE",
            f"The {service} service gave an answer that breaks its contract.",
            extra,
        )
    extra = {}
    if isinstance(error, DownstreamUnavailableError) and error.retry_after_seconds is not None:
        extra["retryAfterSeconds"] = error.retry_after_seconds
    return "DOWNSTREAM_UNAVAILABLE", f"The {service} service is unavailable.", extra


def client_error(error: GraphQLError, request_id: str) -> GraphQLError:
    original = error.original_error
    code = (error.extensions or {}).get("code")
    if code is not None:
        return error
    if isinstance(original, InvalidOperationTypeError):
        # Only a stream reaches here with it (HTTP refuses it before executing): a query
        # or mutation sent to the SSE transport.
        return _with(
            error,
            "Only subscriptions stream; send queries and mutations as plain POSTs.",
            {"code": "BAD_REQUEST"},
        )
    if error.path is None and not isinstance(original, DownstreamError):
        # Parse, validation and variable errors: graphql-core's own words about the
        # client's document, no internals.
        if isinstance(error, GraphQLSyntaxError):
            kind = "GRAPHQL_PARSE_FAILED"
        elif original is not None:
            kind = "BAD_USER_INPUT"
        else:
            kind = "GRAPHQL_VALIDATION_FAILED"
        return _with(error, error.message, {"code": kind})
    if isinstance(original, InvalidInputError):
        return _with(error, original.message, {"code": "BAD_USER_INPUT"})
    if isinstance(original, DownstreamError):
        code, message, extra = _downstream(original)
        logger.warning(
            "downstream failure", extra={"detail": original.detail, "request_id": request_id}
        )
        return _with(error, message, {"code": code, **extra})
    logger.error(
        "unexpected error",
        exc_info=original or error,
        extra={"request_id": request_id, "path": error.path},
    )
    return _with(
        error,
        f"Internal error. Reference: {request_id}",
        {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


def _with(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def _operation_type(execution: ExecutionContext) -> str | None:
    if execution.graphql_document is None:
        return None  # the document did not parse
    try:
        return execution.operation_type.value
    except RuntimeError:
        return None  # operationName names no operation of the document


class ErrorPolicy(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        with collecting() as reported:
            yield
        execution = self.execution_context
        record = getattr(execution.context, "record", None)
        if record is not None:
            record.operation_name = execution.operation_name
            record.operation_type = _operation_type(execution)
        result = execution.result
        if result is None:
            return
        # Errors reported beside the answer (objects left out of lists) join the rest.
        errors = [*(getattr(result, "errors", None) or []), *reported]
        if not errors:
            return
        request_id = getattr(execution.context, "request_id", "")
        result.errors = [client_error(error, request_id) for error in errors]
        if record is not None:
            record.has_data = getattr(result, "data", None) is not None
            # client_error gives every error a code; nothing else reaches the client.
            record.error_codes.extend(
                str((error.extensions or {}).get("code")) for error in result.errors
            )

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each result of a subscription, worded before it is sent (on_operation sees
        only the last): an error there gets its code, or is masked, like any other."""
        errors = getattr(result, "errors", None)
        if errors:
            request_id = getattr(self.execution_context.context, "request_id", "")
            result.errors = [client_error(error, request_id) for error in errors]
        yield
