"""The contract-validating layer itself: it must reject what the contracts do not allow."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sandbox.seed import GB_OPEN_INVOICE_ID
from tests.sandbox.conftest import AUTH, Apps
from tests.sandbox.contract import (
    Contract,
    ContractTransport,
    ContractViolationError,
    contracts_dir,
)

INVOICE = {
    "id": "inv_abc",
    "object": "invoice",
    "business_id": "biz_a",
    "customer_id": "cus_a",
    "number": "INV-000001",
    "status": "open",
    "currency": "GBP",
    "lines": [{"description": "x", "quantity": 1, "unit_amount": 5, "amount": 5}],
    "tax_rate_bps": 0,
    "subtotal": 5,
    "tax": 0,
    "total": 5,
    "amount_paid": 0,
    "amount_due": 5,
    "due_date": "2026-12-01",
    "payment_ids": [],
    "created_at": "2026-11-21T10:15:00Z",
    "updated_at": "2026-11-21T10:15:00Z",
}


def response(method: str, path: str, status: int, **kwargs: object) -> httpx.Response:
    return httpx.Response(
        status,
        request=httpx.Request(method, f"http://svc.test{path}"),
        **kwargs,  # type: ignore[arg-type]
    )


def envelope(code: str, error_type: str = "invalid_request_error") -> dict[str, object]:
    return {"error": {"type": error_type, "code": code, "message": "m", "param": None}}


def test_a_conforming_response_passes() -> None:
    Contract.load("invoicing").validate(response("GET", "/v1/invoices/inv_abc", 200, json=INVOICE))


def test_an_undeclared_status_fails() -> None:
    # given a GET whose operation declares only 200, 401 and 404
    bad = response("GET", "/v1/invoices/inv_abc", 409, json=envelope("invalid_state"))
    # then
    with pytest.raises(ContractViolationError, match="status not declared"):
        Contract.load("invoicing").validate(bad)


def test_readme_conventions_allow_5xx_and_400_on_every_post() -> None:
    contract = Contract.load("invoicing")
    contract.validate(
        response("GET", "/v1/invoices/inv_abc", 503, json=envelope("api_error", "api_error"))
    )
    contract.validate(
        response("POST", "/v1/invoices/inv_abc/void", 400, json=envelope("actor_required"))
    )


def test_a_body_that_is_not_json_fails() -> None:
    bad = response(
        "GET",
        "/v1/invoices/inv_abc",
        200,
        content=b'{"id": "inv_',
        headers={"content-type": "application/json"},
    )
    with pytest.raises(ContractViolationError, match="not JSON"):
        Contract.load("invoicing").validate(bad)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("total", 5.5, "is not of type 'integer'"),
        ("status", "paid_out", "is not one of"),
        ("created_at", "2026-11-21 10:15", "is not a 'date-time'"),
        ("due_date", "01/12/2026", "is not a 'date'"),
        ("id", "invoice_1", "does not match"),
    ],
)
def test_a_schema_violation_fails(field: str, value: object, message: str) -> None:
    bad = response("GET", "/v1/invoices/inv_abc", 200, json={**INVOICE, field: value})
    with pytest.raises(ContractViolationError, match=message):
        Contract.load("invoicing").validate(bad)


def test_a_missing_required_field_fails() -> None:
    body = {k: v for k, v in INVOICE.items() if k != "amount_due"}
    with pytest.raises(ContractViolationError, match="'amount_due' is a required property"):
        Contract.load("invoicing").validate(response("GET", "/v1/invoices/inv_abc", 200, json=body))


def test_an_unknown_operation_fails() -> None:
    with pytest.raises(ContractViolationError, match="no operation DELETE /v1/invoices"):
        Contract.load("invoicing").validate(response("DELETE", "/v1/invoices", 200, json={}))


def test_an_error_code_outside_the_readme_table_fails() -> None:
    bad = response("GET", "/v1/payments/pay_1", 404, json=envelope("not_here", "not_found_error"))
    with pytest.raises(ContractViolationError, match="error code 'not_here'"):
        Contract.load("payments").validate(bad)


def test_a_429_needs_retry_after() -> None:
    bad = response("POST", "/v1/payments", 429, json=envelope("rate_limited", "rate_limit_error"))
    with pytest.raises(ContractViolationError, match="Retry-After"):
        Contract.load("payments").validate(bad)


def test_the_replay_header_is_checked() -> None:
    bad = response(
        "POST",
        "/v1/invoices/inv_abc/finalize",
        200,
        json=INVOICE,
        headers={"Idempotent-Replayed": "yes"},
    )
    with pytest.raises(ContractViolationError, match="is not one of"):
        Contract.load("invoicing").validate(bad)


def test_contracts_dir_honours_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONTRACTS_DIR", str(tmp_path))
    assert contracts_dir() == tmp_path
    monkeypatch.setenv("CONTRACTS_DIR", str(tmp_path / "missing"))
    with pytest.raises(RuntimeError, match="Contracts directory not found"):
        contracts_dir()


async def test_a_lenient_transport_records_violations_and_passes_the_response_on(
    apps: Apps,
) -> None:
    # given a lenient checking transport in front of a sandbox about to send a broken body
    transport = ContractTransport(
        httpx.ASGITransport(app=apps.invoicing()), "invoicing", strict=False
    )
    async with httpx.AsyncClient(
        transport=transport, base_url="http://invoicing.test", headers=AUTH
    ) as client:
        await client.put("/_sandbox/faults", json={"invalid_next": 1})
        # when
        broken = await client.get(f"/v1/invoices/{GB_OPEN_INVOICE_ID}")
        fine = await client.get(f"/v1/invoices/{GB_OPEN_INVOICE_ID}")
    # then the caller got the broken body as sent, and the violation was noted
    assert broken.status_code == 200
    assert broken.json()["total"] == fine.json()["total"] + 0.5
    assert [str(v) for v in transport.violations] == [
        f"invoicing GET /v1/invoices/{GB_OPEN_INVOICE_ID} -> 200: at total: "
        f"{fine.json()['total'] + 0.5} is not of type 'integer'"
    ]


async def test_event_hooks_check_like_the_transport(apps: Apps) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=apps.invoicing()),
        base_url="http://invoicing.test",
        headers=AUTH,
        event_hooks=Contract.load("invoicing").event_hooks(),
    ) as client:
        await client.put("/_sandbox/faults", json={"malformed_next": 1})
        with pytest.raises(ContractViolationError, match="body is not JSON"):
            await client.get(f"/v1/invoices/{GB_OPEN_INVOICE_ID}")
        assert (await client.get(f"/v1/invoices/{GB_OPEN_INVOICE_ID}")).status_code == 200
