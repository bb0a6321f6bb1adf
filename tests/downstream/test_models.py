"""The contract models at the edges the property suites reach only by chance: every form
of RFC 3339 the contracts allow, the forms pydantic's lax parsing would also take, and
the values no contract forbids."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from app.downstream import models

CUSTOMER: dict[str, Any] = {
    "id": "cus_1",
    "object": "customer",
    "business_id": "anything, even with a comma",
    "name": "Ada",
    "email": None,
    "created_at": "2026-01-01T00:00:00Z",
}


def created(value: object) -> datetime:
    return models.Customer.model_validate({**CUSTOMER, "created_at": value}).created_at


def refusal(value: object) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        created(value)
    return [error["type"] for error in raised.value.errors()]


@pytest.mark.parametrize(
    ("value", "instant"),
    [
        ("2026-03-01T10:15:00Z", datetime(2026, 3, 1, 10, 15, tzinfo=UTC)),
        ("2026-03-01t10:15:00z", datetime(2026, 3, 1, 10, 15, tzinfo=UTC)),
        ("2026-03-01T15:45:00+05:30", datetime(2026, 3, 1, 10, 15, tzinfo=UTC)),
        ("2026-03-01T10:15:00-00:00", datetime(2026, 3, 1, 10, 15, tzinfo=UTC)),
        ("2026-03-01T10:15:00.5Z", datetime(2026, 3, 1, 10, 15, 0, 500_000, tzinfo=UTC)),
        ("2026-03-01T10:15:00.123456789Z", datetime(2026, 3, 1, 10, 15, 0, 123_456, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_every_rfc3339_form_is_read_as_its_instant(value: str, instant: datetime) -> None:
    assert created(value) == instant


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        pytest.param(1767225600, "timestamp_type", id="unix-seconds"),
        pytest.param(1767225600.5, "timestamp_type", id="float"),
        pytest.param(None, "timestamp_type", id="null"),
        pytest.param("1767225600", "timestamp_format", id="numeric-string"),
        pytest.param("2026-01-01", "timestamp_format", id="date-alone"),
        pytest.param("2026-01-01T00:00:00", "timestamp_format", id="no-offset"),
        pytest.param("2026-01-01 00:00:00Z", "timestamp_format", id="space"),
        pytest.param("2026-01-01T00:00:00Z\n", "timestamp_format", id="trailing-newline"),
        pytest.param("2026-02-30T00:00:00Z", "datetime_from_date_parsing", id="no-such-day"),
        pytest.param("0001-01-01T00:30:00+01:00", "timestamp_range", id="before-year-1-in-utc"),
    ],
)
def test_what_is_not_an_rfc3339_date_time_is_refused_with_its_rule(
    value: object, rule: str
) -> None:
    assert refusal(value) == [rule]


@pytest.mark.parametrize("value", [20260101, "2026-01-01T00:00:00Z", "20260101", 0])
def test_a_due_date_is_an_rfc3339_full_date_string(value: object) -> None:
    invoice = {
        "id": "inv_1",
        "object": "invoice",
        "business_id": "b",
        "customer_id": "c",
        "number": "1",
        "status": "open",
        "currency": "JPY",
        "lines": [],
        "tax_rate_bps": 0,
        "subtotal": 0,
        "tax": 0,
        "total": 0,
        "amount_paid": 5,
        "amount_due": 7,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    read = models.Invoice.model_validate({**invoice, "due_date": "2026-12-31"})
    # (paid + due need not add up to the total: no contract says so)
    assert (read.due_date, read.amount_paid, read.amount_due, read.payment_ids) == (
        date(2026, 12, 31),
        5,
        7,
        [],
    )
    with pytest.raises(ValidationError):
        models.Invoice.model_validate({**invoice, "due_date": value})


def test_balances_may_be_negative_and_unknown_fields_are_ignored() -> None:
    balance = models.Balance.model_validate(
        {
            "object": "balance",
            "business_id": "biz_1",
            "available": [{"amount": -1250, "currency": "GBP", "note": "refunds"}],
            "pending": [],
            "livemode": True,
        }
    )
    assert balance.available[0].amount == -1250
