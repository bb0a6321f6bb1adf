"""A transport refusal as the GraphQL endpoint words its own: one error with a code."""

from __future__ import annotations

from starlette.responses import JSONResponse


def refusal(status_code: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status_code,
        headers=headers or None,
    )
