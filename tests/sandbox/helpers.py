"""Small helpers shared by the sandbox tests."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.seed import GB_BUSINESS_ID, GB_CUSTOMER_ID, GB_OPEN_INVOICE_ID

ACTOR = "user_alice"


def write_headers(key: str | None = None, actor: str | None = ACTOR) -> dict[str, str]:
    headers = {}
    if key is not None:
        headers["Idempotency-Key"] = key
    if actor is not None:
        headers["X-Actor-Id"] = actor
    return headers


def assert_error(
    response: httpx.Response, status: int, error_type: str, code: str, param: str | None
) -> None:
    """The whole envelope: type, code and param exactly, message a non-empty string."""
    assert response.status_code == status, response.text
    body = response.json()
    message = body.get("error", {}).get("message")
    assert isinstance(message, str)
    assert message
    assert body == {"error": {"type": error_type, "code": code, "message": message, "param": param}}


def invalid_request(response: httpx.Response, param: str | None) -> None:
    assert_error(response, 400, "invalid_request_error", "invalid_request", param)


def invoice_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "business_id": GB_BUSINESS_ID,
        "customer_id": GB_CUSTOMER_ID,
        "currency": "GBP",
        "due_date": "2026-12-31",
        "tax_rate_bps": 2000,
        "lines": [{"description": "Design sprint", "quantity": 2, "unit_amount": 12_550}],
    }
    body.update(overrides)
    return body


def payment_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "business_id": GB_BUSINESS_ID,
        "invoice_id": GB_OPEN_INVOICE_ID,
        "amount": 10_000,
        "currency": "GBP",
        "payment_method": "pm_card_ok",
    }
    body.update(overrides)
    return body
