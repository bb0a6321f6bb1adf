"""The version-1 envelope: what is written is read back exactly; anything else is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.events.envelope import Event, EventFormatError, EventType, from_json

refs = st.from_regex(r"[A-Za-z0-9_\-]{1,64}", fullmatch=True)
events = st.builds(
    Event,
    id=st.from_regex(r"evt_[0-9a-f]{32}", fullmatch=True),
    type=st.sampled_from(EventType),
    time=st.datetimes(timezones=st.just(UTC)),
    business_id=refs,
    subject=refs,
    sequence=st.integers(min_value=1, max_value=2**62),
    data=st.dictionaries(st.text(max_size=5), st.text(max_size=5) | st.integers(), max_size=3),
)


@given(events)
def test_an_event_reads_back_as_written(event: Event) -> None:
    assert from_json(event.to_json()) == event


def sample() -> dict[str, Any]:
    event = Event(
        id="evt_" + "a" * 32,
        type=EventType.PAYMENT_SUCCEEDED,
        time=datetime(2026, 12, 3, 13, 45, tzinfo=UTC),
        business_id="biz_GB1",
        subject="pay_1",
        sequence=3,
        data={"amount": {"amount": "1250", "currency": "GBP"}},
    )
    assert event.routing_key == "biz_GB1.payment.succeeded"
    return event.to_dict()


@pytest.mark.parametrize(
    "change",
    [
        {"specversion": "0.3"},
        {"source": "/elsewhere"},
        {"type": "payment.exploded"},
        {"id": "evt_1"},
        {"subject": "pay 1"},
        {"businessid": "biz.GB1"},
        {"sequence": 0},
        {"sequence": True},
        {"sequence": 1.0},
        {"time": "2026-12-03T13:45:00+01:00"},
        {"time": "yesterdayZ"},
        {"dataschema": "urn:fintech-gateway:events:payment.failed:1"},
        {"datacontenttype": "text/plain"},
        {"data": []},
        {"extra": 1},
    ],
)
def test_anything_but_a_version_1_envelope_is_refused(change: dict[str, Any]) -> None:
    raw = {**sample(), **change}

    with pytest.raises(EventFormatError):
        from_json(json.dumps(raw))


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null"])
def test_not_an_object_is_refused(raw: bytes) -> None:
    with pytest.raises(EventFormatError):
        from_json(raw)
