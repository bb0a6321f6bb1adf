"""Pydantic models of the downstream contracts' objects. Every response is validated
against these before the gateway uses it: strict types, no floats for money, known
currencies, prefixed ids."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Currency = Literal["GBP", "INR", "EUR", "USD", "JPY", "KWD"]
BusinessId = Annotated[str, StringConstraints(pattern=r"^biz_[A-Za-z0-9]{1,32}$")]


class ContractModel(BaseModel):
    # Strict: "12" is not 12 and 12.0 is not 12. Extra fields are ignored so that a
    # newer downstream minor version does not break the gateway.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class Business(ContractModel):
    id: BusinessId
    object: Literal["business"]
    name: str
    country: Literal["GB", "IN"]
    default_currency: Currency
    vat_number: str | None = None
    created_at: Annotated[datetime, Field(strict=False)]


ItemT = TypeVar("ItemT", bound=ContractModel)


class ListEnvelope(ContractModel, Generic[ItemT]):
    object: Literal["list"]
    data: list[ItemT]
    has_more: bool
