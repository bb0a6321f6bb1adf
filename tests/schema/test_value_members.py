"""Money, payment methods, and invoice and payment statuses take their enum members from
a lookup by value (`member_of`): the same members the enum's call gives, and a value the
enum does not list refused as it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from app.downstream import models
from app.schema.types.enums import (
    CurrencyCode,
    InvoiceStatus,
    PaymentMethodType,
    PaymentStatus,
    member_of,
)
from app.schema.types.values import Money, PaymentMethod


def method_of(kind: str) -> models.PaymentMethod:
    fields: dict[str, Any] = {"type": kind, "brand": None, "last4": None, "upi_vpa": None}
    return models.PaymentMethod.model_construct(**fields)


@pytest.mark.parametrize("code", [member.value for member in CurrencyCode])
def test_every_currency_is_the_enums_own_member(code: str) -> None:
    assert Money.of(125, code).currency is CurrencyCode(code)


@pytest.mark.parametrize("kind", [member.value for member in PaymentMethodType])
def test_every_method_type_is_the_enums_own_member(kind: str) -> None:
    method = method_of(kind)
    assert PaymentMethod.of(method).type is PaymentMethodType(kind)


def test_an_unknown_currency_is_refused_as_the_enum_refuses_it() -> None:
    with pytest.raises(ValueError, match="'XXX' is not a valid CurrencyCode"):
        Money.of(1, "XXX")


def test_an_unknown_method_type_is_refused_as_the_enum_refuses_it() -> None:
    method = method_of("cash")  # as a service breaking the contract would send it
    with pytest.raises(ValueError, match="'cash' is not a valid PaymentMethodType"):
        PaymentMethod.of(method)


@pytest.mark.parametrize("kind", [InvoiceStatus, PaymentStatus])
def test_every_status_is_the_enums_own_member(kind: type[InvoiceStatus]) -> None:
    assert [member_of(kind, member.value) for member in kind] == list(kind)
