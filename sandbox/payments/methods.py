"""The contract's test payment methods and what charging each one does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TestMethod:
    type: str
    status: str
    failure_code: str | None = None
    brand: str | None = None
    last4: str | None = None
    upi_vpa: str | None = None
    only_currency: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "brand": self.brand,
            "last4": self.last4,
            "upi_vpa": self.upi_vpa,
        }


TEST_METHODS: dict[str, TestMethod] = {
    "pm_card_ok": TestMethod("card", "succeeded", brand="visa", last4="4242"),
    # The contract names only the outcome of the failing cards; their last4 follow the
    # usual test-card numbers so that the UI has something to show.
    "pm_card_declined": TestMethod("card", "failed", "card_declined", brand="visa", last4="0002"),
    "pm_card_insufficient_funds": TestMethod(
        "card", "failed", "insufficient_funds", brand="visa", last4="9995"
    ),
    "pm_upi_ok": TestMethod("upi", "succeeded", upi_vpa="shop@okbank", only_currency="INR"),
    "pm_bank_transfer": TestMethod("bank_transfer", "pending"),
}
