"""The custom scalars of schema-core.graphql: Decimal, DateTime (Date is Strawberry's)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

# A decimal number carried as its exact string ("1250.50"). Inputs stay strings so that
# the service can reject bad amounts with a userError naming the input field.
DecimalString = NewType("DecimalString", str)

MAX_DECIMAL_INPUT_LENGTH = 64


def _serialize_decimal(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("Decimal values are produced as strings")
    return value


def _parse_decimal(value: object) -> DecimalString:
    if not isinstance(value, str) or len(value) > MAX_DECIMAL_INPUT_LENGTH:
        raise ValueError('Decimal must be a string such as "12.50"')
    return DecimalString(value)


def _serialize_datetime(value: object) -> str:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise TypeError("DateTime values must be timezone-aware datetimes")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


SCALARS: dict[object, ScalarDefinition] = {
    DecimalString: strawberry.scalar(
        name="Decimal",
        description='An exact decimal number as a string, e.g. "1250.50". Never a float. '
        "Money amounts are in major units of their currency.",
        serialize=_serialize_decimal,
        parse_value=_parse_decimal,
    ),
    datetime: strawberry.scalar(
        name="DateTime",
        description='RFC 3339 date-time in UTC, e.g. "2026-11-21T10:15:00Z".',
        serialize=_serialize_datetime,
        parse_value=lambda value: datetime.fromisoformat(str(value)).astimezone(UTC),
    ),
}
