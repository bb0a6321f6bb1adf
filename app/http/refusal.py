"""A transport refusal as the GraphQL endpoint words its own: one error with a code.

Every non-2xx answer from /graphql is JSON in this shape (`errors[].extensions.code`), so
a client needs one error path, not one per status. `Refused` is how the edge's own code
raises such an answer from deep in request reading; Strawberry's uncoded
`HTTPException`s are given the code their status implies.
"""

from __future__ import annotations

from cross_web import HTTPException
from starlette.responses import JSONResponse

# The code an uncoded refusal of this status carries.
_CODE_OF_STATUS = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


class Refused(HTTPException):
    """An HTTP refusal with the code the client is told."""

    def __init__(self, status_code: int, reason: str, code: str) -> None:
        super().__init__(status_code, reason)
        self.code = code


def refusal(status_code: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status_code,
        headers=headers or None,
    )


def code_of_status(status_code: int) -> str:
    return _CODE_OF_STATUS.get(status_code, "BAD_REQUEST")


def refused(exc: HTTPException) -> JSONResponse:
    """The JSON answer for an `HTTPException`, coded or not."""
    code = exc.code if isinstance(exc, Refused) else None
    return refusal(exc.status_code, code or code_of_status(exc.status_code), exc.reason)
