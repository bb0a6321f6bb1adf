"""The error envelope shared by both services (see contracts/README.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    422: "idempotency_error",
    429: "rate_limit_error",
}

# Codes whose error type is not the one their status implies.
_TYPE_BY_CODE = {"idempotency_key_in_use": "idempotency_error"}


def error_type(status: int, code: str) -> str:
    if code in _TYPE_BY_CODE:
        return _TYPE_BY_CODE[code]
    return _TYPE_BY_STATUS.get(status, "api_error")


@dataclass
class ApiError(Exception):
    """An answer that is an error envelope; raised anywhere below the request pipeline."""

    status: int
    code: str
    message: str
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def envelope(self) -> dict[str, Any]:
        return {
            "error": {
                "type": error_type(self.status, self.code),
                "code": self.code,
                "message": self.message,
                "param": self.param,
            }
        }


def invalid(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", message, param)


def missing(kind: str, object_id: str, param: str | None) -> ApiError:
    return ApiError(404, "resource_missing", f"No such {kind}: '{object_id}'", param)


def conflict(code: str, message: str, param: str | None = None) -> ApiError:
    return ApiError(409, code, message, param)


def unauthenticated() -> ApiError:
    return ApiError(401, "unauthenticated", "Missing or invalid service token")


def encode_json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def json_bytes_response(
    status: int, body: bytes, headers: dict[str, str] | None = None
) -> Response:
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def error_response(err: ApiError) -> Response:
    return json_bytes_response(err.status, encode_json(err.envelope()), err.headers)
