"""The Strawberry view runs only what admission let through, and never a batch."""

from __future__ import annotations

import json

import pytest
import strawberry
from cross_web import HTTPException
from starlette.requests import Request
from starlette.types import Message
from strawberry.http import GraphQLRequestData
from strawberry.schema.config import StrawberryConfig

from app.http.view import AdmittedRequest, AdmittedRequestAdapter, GatewayView
from app.schema.build import build_schema


def post(body: object) -> Request:
    payload = json.dumps(body).encode()

    async def receive() -> Message:
        return {"type": "http.request", "body": payload, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    return Request(scope, receive)


async def test_a_request_that_was_not_admitted_is_refused() -> None:
    view = GatewayView(build_schema())

    with pytest.raises(HTTPException) as raised:
        await view.parse_http_body(AdmittedRequestAdapter(post({"query": "{ viewer { id } }"})))

    assert (raised.value.status_code, raised.value.reason) == (400, "Request not admitted")


async def test_the_view_runs_what_was_admitted_not_what_was_sent() -> None:
    view = GatewayView(build_schema())
    request = post({"query": "{ viewer { id } }"})
    admitted = GraphQLRequestData(
        query="{ __typename }", variables=None, operation_name=None, extensions=None
    )

    sub_response = await view.get_sub_response(request)
    handed = AdmittedRequest(request, admitted, sub_response)

    assert await view.parse_http_body(AdmittedRequestAdapter(handed)) is admitted
    # the view answers with the response the request's context was given
    assert await view.get_sub_response(handed) is sub_response


@strawberry.type
class _Query:
    ok: bool = True


async def test_a_batch_is_read_whole_where_batching_is_switched_on() -> None:
    schema = strawberry.Schema(
        query=_Query, config=StrawberryConfig(batching_config={"max_operations": 5})
    )
    view = GatewayView(schema)

    batch = await view.read_request(post([{"query": "{ ok }"}, {"query": "{ a: ok }"}]))

    assert isinstance(batch, list)
    assert [item.query for item in batch] == ["{ ok }", "{ a: ok }"]


async def test_a_batch_is_refused_where_batching_is_off() -> None:
    view = GatewayView(strawberry.Schema(query=_Query))

    with pytest.raises(HTTPException) as raised:
        await view.read_request(post([{"query": "{ ok }"}, {"query": "{ ok }"}]))

    assert (raised.value.status_code, raised.value.reason) == (400, "Batching is not enabled")
