"""The channel's `one_pass_json` lever: on (the default) pydantic parses and validates a
body in one pass; off, `json.loads` parses it first. Either way a body is accepted or
refused alike, with the same error, NaN and Infinity included."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import ValidationError

from app.downstream.breaker import CircuitBreaker
from app.downstream.checked import BrokenObject
from app.downstream.errors import DownstreamInvalidResponseError
from app.downstream.invoicing import InvoicingClient
from app.downstream.models import Business, ListEnvelope
from app.downstream.retry import RetryPolicy
from app.downstream.service import Channel, ServiceClient
from tests.downstream.test_service_client import BUSINESS, META, transport

BOTH = pytest.mark.parametrize("one_pass_json", [True, False], ids=["one-pass", "loads-first"])


def _client(http: httpx.AsyncClient, *, one_pass_json: bool) -> InvoicingClient:
    breaker = CircuitBreaker("invoicing", failure_threshold=1000, open_seconds=1)
    channel = Channel(
        "invoicing", http, breaker, RetryPolicy(max_attempts=1), one_pass_json=one_pass_json
    )
    return InvoicingClient(ServiceClient(channel, META))


def _answering(body: bytes) -> httpx.AsyncClient:
    return transport(lambda _request: httpx.Response(200, content=body))


async def test_a_channel_validates_in_one_pass_unless_told_otherwise() -> None:
    breaker = CircuitBreaker("invoicing", failure_threshold=1, open_seconds=1)
    async with httpx.AsyncClient() as http:
        assert Channel("invoicing", http, breaker).one_pass_json is True


@BOTH
async def test_a_valid_body_reads_the_same_either_way(one_pass_json: bool) -> None:
    body = json.dumps({"object": "list", "has_more": False, "data": [BUSINESS]}).encode()

    async with _answering(body) as http:
        found = await _client(http, one_pass_json=one_pass_json).get_businesses(["biz_asked"])

    assert found == [ListEnvelope[Business].model_validate_json(body).data[0]]


@BOTH
@pytest.mark.parametrize(
    "body",
    [
        b'{"object": "list", "has_more": false, "data": [], "x": NaN}',
        b'{"object": "list", "has_more": false, "data": [], "x": -Infinity}',
        b'{"object": "list", "has_more": false, "data": [], "x": Infinity}',
        b'{"object": "list", "has_more": "false", "data": []}',
        b'{"object": "list", "has_more": false, "data": [{"id": "biz_1"}], "x": NaN}',
        b'{"object": "lists", "has_more": false, "data": []}',
        b'{"object": "list", "has_more": false, "data": {}}',
        b'{"object": "list", "has_more": false, "data": [',
        b"[]",
        b"",
        # Not UTF-8: json.loads alone would read these two.
        '{"object": "list", "has_more": false, "data": []}'.encode("utf-16"),
        b'\xef\xbb\xbf{"object": "list", "has_more": false, "data": []}',
    ],
)
async def test_a_body_that_breaks_the_contract_is_refused_with_the_same_error(
    one_pass_json: bool, body: bytes
) -> None:
    async with _answering(body) as http:
        with pytest.raises(DownstreamInvalidResponseError) as raised:
            await _client(http, one_pass_json=one_pass_json).get_businesses(["biz_asked"])

    assert str(raised.value) == "invoicing: response body violates the contract"
    assert isinstance(raised.value.__cause__, ValueError)


@BOTH
async def test_an_object_that_breaks_the_contract_is_left_out_the_same_way_either_way(
    one_pass_json: bool,
) -> None:
    # Given a list answer whose second object has an id of the wrong type
    broken = {**BUSINESS, "id": 12, "name": 3}
    body = json.dumps({"object": "list", "has_more": False, "data": [BUSINESS, broken]}).encode()

    # When it is read by each parser
    async with _answering(body) as http:
        found = await _client(http, one_pass_json=one_pass_json).get_businesses(["biz_asked"])

    # Then the valid one is found, and the broken one is handed back with the rules it
    # broke (no id: it has none that is a string)
    assert [business.id for business in found] == ["biz_asked"]
    assert found.broken == (
        BrokenObject(
            service="invoicing",
            kind="Business",
            links=(),
            rules=(("string_type", "id"), ("string_type", "name")),
            id_prefix="biz_",
            owner_field="id",
        ),
    )


@pytest.mark.parametrize(
    ("one_pass_json", "parser_error"),
    [(True, ValidationError), (False, json.JSONDecodeError)],
    ids=["one-pass", "loads-first"],
)
async def test_each_setting_parses_with_its_own_parser(
    one_pass_json: bool, parser_error: type[ValueError]
) -> None:
    # The same refusal, but the cause names the parser that refused the body.
    async with _answering(b'{"object": "list", "has_more": false, "data": [') as http:
        with pytest.raises(DownstreamInvalidResponseError) as raised:
            await _client(http, one_pass_json=one_pass_json).get_businesses(["biz_asked"])

    assert type(raised.value.__cause__) is parser_error
