"""The token-protected /_sandbox/ admin surface: faults, call log and reset."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.common.errors import ApiError, encode_json, error_response, json_bytes_response
from sandbox.common.faults import FaultConfigBody
from sandbox.common.listing import list_envelope
from sandbox.common.validation import parse_body

if TYPE_CHECKING:
    from sandbox.common.runtime import Service


def admin_routes(service: Service) -> list[Route]:
    def faults_json() -> Response:
        return json_bytes_response(200, encode_json(service.faults.config.as_json()))

    async def get_faults(request: Request) -> Response:
        return faults_json()

    async def put_faults(request: Request) -> Response:
        try:
            body = parse_body(FaultConfigBody, await request.body())
        except ApiError as err:
            return error_response(err)
        service.faults.set(body.to_config())
        return faults_json()

    async def delete_faults(request: Request) -> Response:
        service.faults.reset()
        return faults_json()

    async def get_calls(request: Request) -> Response:
        return json_bytes_response(200, encode_json(list_envelope(service.calls.all())))

    async def delete_calls(request: Request) -> Response:
        service.calls.clear()
        return Response(status_code=204)

    async def reset(request: Request) -> Response:
        service.reset()
        return json_bytes_response(200, encode_json({"reset": True}))

    return [
        Route("/_sandbox/faults", get_faults, methods=["GET"]),
        Route("/_sandbox/faults", put_faults, methods=["PUT"]),
        Route("/_sandbox/faults", delete_faults, methods=["DELETE"]),
        Route("/_sandbox/calls", get_calls, methods=["GET"]),
        Route("/_sandbox/calls", delete_calls, methods=["DELETE"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
    ]
