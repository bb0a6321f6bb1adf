"""An answer's JSON is byte for byte Strawberry's own (`json.dumps` with compact
separators), whichever encoder writes it (app/http/answer_json.py): over generated
values of every JSON shape and string, the refusals json.dumps makes, and through the
view, for the gateway's schema and for one with floats."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
import strawberry
from hypothesis import example, given
from hypothesis import strategies as st

from app.http.answer_json import AnswerJson, strawberry_json
from app.http.view import GatewayView
from app.schema.build import build_schema

_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text()
    | st.text(alphabet=st.characters(codec="ascii"))
    | st.sampled_from(["\x7f", "\x00", "\u2028", "é", "£", "₹", "𝄞", "\ud800", '"\\/'])
)
_values = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def _encoded(answer: AnswerJson, data: object) -> str:
    written = answer(data)
    return written.decode() if isinstance(written, bytes) else written


@given(_values)
@example("\x7f")  # json.dumps escapes DEL; orjson does not
@example(["é", "₹ 1,250", "£\x7f"])
@example(["\\xa3 is not £"])  # a backslash and a non-ASCII character
@example(["𝄞 past U+FFFF", "é"])
@example({"n": 2**64})
def test_any_data_without_floats_is_written_as_strawberry_writes_it(value: Any) -> None:
    data = {"data": value}
    assert _encoded(AnswerJson(floats_possible=False), data) == strawberry_json(data)


_floats = st.floats(allow_nan=True, allow_infinity=True)


@given(
    st.dictionaries(
        st.sampled_from(["data", "errors", "extensions"]),
        st.recursive(_leaves | _floats, lambda inner: st.lists(inner, max_size=4)),
        min_size=1,
    ).filter(lambda answer: answer.keys() != {"data"})
)
@example({"errors": [1e-05]})  # orjson writes 0.00001
@example({"data": ["plain"], "extensions": [2.5e-07]})
def test_errors_and_extensions_are_written_as_strawberry_writes_them(
    data: dict[str, Any],
) -> None:
    # (their values are not typed by the schema: retryAfterSeconds is a float)
    assert _encoded(AnswerJson(floats_possible=False), data) == strawberry_json(data)


@given(_values | _floats)
def test_with_floats_possible_every_answer_is_json_dumps(value: Any) -> None:
    data = {"data": {"value": value}}
    assert _encoded(AnswerJson(floats_possible=True), data) == strawberry_json(data)


@dataclasses.dataclass
class _Record:
    name: str


class _Text(str):
    pass


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 12, 4, tzinfo=dt.UTC),
        _Record("a"),
        {1: "an int key"},
        object(),
        [[[[["deep"]]]]] * 2,
        2**64,
        -(2**63) - 1,
        _Text("a str subclass"),
    ],
    ids=repr,
)
def test_what_orjson_would_write_otherwise_goes_to_json_dumps(value: Any) -> None:
    # given an answer holding a value orjson writes differently or json.dumps refuses
    data = {"data": {"value": value}}
    try:
        expected: str | type[Exception] = strawberry_json(data)
    except TypeError:
        expected = TypeError

    # when it is encoded; then the bytes, or the refusal, are json.dumps's
    if expected is TypeError:
        with pytest.raises(TypeError):
            AnswerJson(floats_possible=False)(data)
    else:
        assert _encoded(AnswerJson(floats_possible=False), data) == expected


def test_a_plain_answer_of_the_gateway_is_written_by_orjson() -> None:
    # given the gateway's view (its schema has no Float) and a plain ASCII answer
    view = GatewayView(build_schema())
    data = {"data": {"business": {"id": "biz_1", "count": 3, "open": True, "note": None}}}

    # when encoded; then the bytes are orjson's, and the same as Strawberry's
    written = view.encode_json(data)
    assert isinstance(written, bytes)
    assert written.decode() == json.dumps(data, separators=(",", ":"))


def test_a_schema_with_floats_is_written_by_json_dumps() -> None:
    @strawberry.type
    class Query:
        ratio: float = 1e16

    view = GatewayView(strawberry.Schema(query=Query))
    data = {"data": {"ratio": 1e16}}
    assert view.encode_json(data) == '{"data":{"ratio":1e+16}}'
