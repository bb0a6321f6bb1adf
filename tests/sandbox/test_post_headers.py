"""Every POST: X-Actor-Id, then the Idempotency-Key's presence and format, in that order."""

from __future__ import annotations

import httpx
import pytest

from sandbox.seed import GB_DRAFT_INVOICE_ID, GB_OPEN_INVOICE_ID, SUCCEEDED_PAYMENT_ID
from tests.sandbox.helpers import assert_error, invalid_request, invoice_body, payment_body

INVOICING_POSTS = [
    ("/v1/customers", {"business_id": "biz_GBdemo", "name": "Ada"}),
    ("/v1/invoices", invoice_body()),
    (f"/v1/invoices/{GB_DRAFT_INVOICE_ID}/finalize", None),
    (f"/v1/invoices/{GB_DRAFT_INVOICE_ID}/void", None),
    (
        f"/v1/invoices/{GB_OPEN_INVOICE_ID}/payments",
        {"payment_id": "pay_x1", "amount": 1, "currency": "GBP"},
    ),
]
PAYMENTS_POSTS = [
    ("/v1/payments", payment_body()),
    (f"/v1/payments/{SUCCEEDED_PAYMENT_ID}/refunds", {"amount": 1}),
]
BAD_ACTORS = [
    pytest.param({}, id="missing"),
    pytest.param({"X-Actor-Id": ""}, id="empty"),
    pytest.param({"X-Actor-Id": "u" * 256}, id="too-long"),
]


@pytest.mark.parametrize(("path", "body"), INVOICING_POSTS)
@pytest.mark.parametrize("actor", BAD_ACTORS)
async def test_invoicing_posts_need_an_actor(
    invoicing: httpx.AsyncClient, path: str, body: object, actor: dict[str, str]
) -> None:
    # given a request whose key and body would both be refused too
    headers = {**actor, "Idempotency-Key": "k" * 300}
    # when
    response = await invoicing.post(path, content=b"{oops", headers=headers)
    # then the actor is checked first
    assert_error(response, 400, "invalid_request_error", "actor_required", "X-Actor-Id")


@pytest.mark.parametrize(("path", "body"), PAYMENTS_POSTS)
@pytest.mark.parametrize("actor", BAD_ACTORS)
async def test_payments_posts_need_an_actor_before_a_key(
    payments: httpx.AsyncClient, path: str, body: object, actor: dict[str, str]
) -> None:
    response = await payments.post(path, json=body, headers=actor)
    assert_error(response, 400, "invalid_request_error", "actor_required", "X-Actor-Id")


@pytest.mark.parametrize(("path", "body"), PAYMENTS_POSTS)
async def test_payments_posts_need_an_idempotency_key(
    payments: httpx.AsyncClient, path: str, body: object
) -> None:
    # given an invalid body as well: the key is checked before the body
    response = await payments.post(path, content=b"[]", headers={"X-Actor-Id": "u1"})
    assert_error(
        response, 400, "invalid_request_error", "idempotency_key_required", "Idempotency-Key"
    )


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_a_key_must_be_1_to_255_characters(
    payments: httpx.AsyncClient, invoicing: httpx.AsyncClient, key: str
) -> None:
    headers = {"X-Actor-Id": "u1", "Idempotency-Key": key}
    invalid_request(
        await payments.post("/v1/payments", json=payment_body(), headers=headers),
        "Idempotency-Key",
    )
    invalid_request(
        await invoicing.post(f"/v1/invoices/{GB_DRAFT_INVOICE_ID}/finalize", headers=headers),
        "Idempotency-Key",
    )


async def test_keys_and_actors_of_255_characters_are_accepted(
    payments: httpx.AsyncClient,
) -> None:
    headers = {"X-Actor-Id": "u" * 255, "Idempotency-Key": "k" * 255}
    response = await payments.post("/v1/payments", json=payment_body(), headers=headers)
    assert response.status_code == 201


@pytest.mark.parametrize(("path", "body"), INVOICING_POSTS)
async def test_invoicing_posts_run_without_a_key(
    invoicing: httpx.AsyncClient, path: str, body: object
) -> None:
    response = await invoicing.post(path, json=body, headers={"X-Actor-Id": "u1"})
    assert response.status_code in (200, 201)
    assert "idempotent-replayed" not in response.headers
