"""The token-protected /_sandbox/ admin surface: faults, variant, call log and reset.

A service adds routes of its own (the payments sandbox's settling); a service built with
admin off has none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.common.errors import ApiError, encode_json, error_response, json_bytes_response
from sandbox.common.faults import FaultConfigBody
from sandbox.common.listing import list_envelope
from sandbox.common.validation import parse_body
from sandbox.common.variants import VariantBody

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

    def variant_json() -> Response:
        return json_bytes_response(200, encode_json(service.variant.current.as_json()))

    async def get_variant(request: Request) -> Response:
        return variant_json()

    async def put_variant(request: Request) -> Response:
        try:
            body = parse_body(VariantBody, await request.body())
        except ApiError as err:
            return error_response(err)
        service.variant.set(body.to_variant())
        return variant_json()

    async def delete_variant(request: Request) -> Response:
        service.variant.reset()
        return variant_json()

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
        Route("/_sandbox/variant", get_variant, methods=["GET"]),
        Route("/_sandbox/variant", put_variant, methods=["PUT"]),
        Route("/_sandbox/variant", delete_variant, methods=["DELETE"]),
        Route("/_sandbox/calls", get_calls, methods=["GET"]),
        Route("/_sandbox/calls", delete_calls, methods=["DELETE"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
    ]
