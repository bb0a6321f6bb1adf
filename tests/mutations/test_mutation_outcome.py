"""`mutationOutcome`: an app that lost payInvoice's answer follows the payment to its end by
its key, without sending it again; only its own keys, authorized as of now."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth.principal import Role
from sandbox.devkeys import mint_token
from sandbox.seed import GB_BUSINESS_ID, GB_OPEN_INVOICE_ID
from tests.mutations.conftest import AUDIENCE, ISSUER, SUBJECT, World, WorldFactory
from tests.mutations.helpers import Json, codes, pay
from tests.mutations.test_recovery import fail_recording, void_after_charge
from tests.mutations.test_settlement import FAST, transfer, until_done

INVOICE = GB_OPEN_INVOICE_ID
OUTCOME = """
query Outcome($mutation: MutationName!, $key: String!) {
  mutationOutcome(mutation: $mutation, idempotencyKey: $key) {
    mutation idempotencyKey status step settlement startedAt updatedAt
    result {
      __typename
      ... on PayInvoicePayload {
        replayed userErrors { code }
        payment { id status } invoice { id status }
      }
      ... on CreateCustomerPayload { replayed customer { id name } }
    }
  }
}
"""


def token(key: rsa.RSAPrivateKey, subject: str, memberships: list[tuple[str, Role]]) -> str:
    return mint_token(
        key, issuer=ISSUER, audience=AUDIENCE, subject=subject, memberships=memberships
    )


async def outcome(
    world: World, key: str, mutation: str = "PAY_INVOICE", token: str | None = None
) -> Any:
    response = await world.client.post(
        "/graphql",
        json={"query": OUTCOME, "variables": {"mutation": mutation, "key": key}},
        headers={"Authorization": f"Bearer {token or world.token}"},
    )
    body: Json = response.json()
    assert "errors" not in body, body
    return body["data"]["mutationOutcome"]


async def test_a_completed_payment_is_shown_as_its_replay(world_factory: WorldFactory) -> None:
    # given a card payment whose answer the app lost
    world = await world_factory()
    answer = await pay(world.client, world.token, "lost-answer", INVOICE)
    posts = len(await world.payments.posts("/v1/payments"))

    # when the app asks what happened
    found = await outcome(world, "lost-answer")

    # then it is completed, with the answer a replay gives, and nothing was sent again
    assert found["status"] == "COMPLETED"
    assert (found["mutation"], found["idempotencyKey"]) == ("PAY_INVOICE", "lost-answer")
    assert (found["step"], found["settlement"]) == (None, None)
    assert found["result"] == {
        "__typename": "PayInvoicePayload",
        "replayed": True,
        "userErrors": [],
        "payment": {"id": answer["payment"]["id"], "status": "SUCCEEDED"},
        "invoice": {"id": INVOICE, "status": "PAID"},
    }
    assert len(await world.payments.posts("/v1/payments")) == posts


async def test_a_bank_transfer_is_followed_until_it_settles(world_factory: WorldFactory) -> None:
    world = await world_factory(**FAST)
    taken = await transfer(world, key="transfer-followed")
    payment_id = taken["payment"]["id"]

    waiting = await outcome(world, "transfer-followed")
    await world.payments.settle(payment_id, "succeeded")
    await until_done(world, payment_id)
    settled = await outcome(world, "transfer-followed")

    assert (waiting["status"], waiting["settlement"]) == ("WAITING_FOR_SETTLEMENT", "PENDING")
    assert waiting["result"]["payment"] == {"id": payment_id, "status": "PENDING"}
    assert (settled["status"], settled["settlement"]) == ("COMPLETED", "SUCCEEDED")
    # the invoice as it now stands: paid by the settled transfer
    assert settled["result"]["invoice"] == {"id": INVOICE, "status": "PAID"}
    assert settled["updatedAt"] >= waiting["updatedAt"]


async def test_a_failed_transfer_ends_failed(world_factory: WorldFactory) -> None:
    world = await world_factory(**FAST)
    taken = await transfer(world, key="transfer-fails")

    await world.payments.settle(taken["payment"]["id"], "failed")
    await until_done(world, taken["payment"]["id"])
    found = await outcome(world, "transfer-fails")

    assert (found["status"], found["settlement"]) == ("COMPLETED", "FAILED")
    assert found["result"]["invoice"] == {"id": INVOICE, "status": "OPEN"}


async def test_a_saga_paused_after_the_charge_says_where(world_factory: WorldFactory) -> None:
    # given a payment charged whose recording failed, so its outcome is not known yet
    world = await world_factory()
    await fail_recording(world, times=1)
    answer = await pay(world.client, world.token, "paused", INVOICE)
    assert codes(answer) == ["DOWNSTREAM_UNAVAILABLE"]

    found = await outcome(world, "paused")

    assert (found["status"], found["step"], found["result"]) == ("PAUSED", "RECORDING", None)
    assert found["startedAt"] <= found["updatedAt"]


async def test_a_compensated_payment_says_so(world_factory: WorldFactory) -> None:
    world = await world_factory(wrap=void_after_charge)
    answer = await pay(world.client, world.token, "compensated", INVOICE)
    assert codes(answer) == ["INVALID_STATE"]

    found = await outcome(world, "compensated")

    assert found["status"] == "COMPENSATED"
    assert found["result"]["userErrors"] == [{"code": "INVALID_STATE"}]
    assert found["result"]["invoice"] == {"id": INVOICE, "status": "VOID"}


async def test_only_the_keys_owner_sees_it(
    world_factory: WorldFactory, saga_key: rsa.RSAPrivateKey
) -> None:
    # given a payment made with a key
    world = await world_factory()
    await pay(world.client, world.token, "mine", INVOICE)
    colleague = token(saga_key, "colleague", [(GB_BUSINESS_ID, Role.OWNER)])

    # when a colleague of the same business asks with the same key, or anyone asks for
    # another mutation or a key never sent
    theirs = await outcome(world, "mine", token=colleague)
    other_mutation = await outcome(world, "mine", mutation="REFUND_PAYMENT")
    unknown = await outcome(world, "never-sent")

    # then there is nothing to see: keys are the sender's own
    assert (theirs, other_mutation, unknown) == (None, None, None)


async def test_a_caller_who_lost_the_business_sees_a_stranger_s_answer(
    world_factory: WorldFactory, saga_key: rsa.RSAPrivateKey
) -> None:
    world = await world_factory()
    await pay(world.client, world.token, "then-removed", INVOICE)
    removed = token(saga_key, SUBJECT, [])

    found = await outcome(world, "then-removed", token=removed)

    # (exactly what payInvoice answers a stranger: a refusal, not a replay)
    assert found["status"] == "COMPLETED"
    assert found["result"] == {
        "__typename": "PayInvoicePayload",
        "replayed": False,
        "userErrors": [{"code": "NOT_FOUND"}],
        "payment": None,
        "invoice": None,
    }


async def test_other_mutations_are_shown_too(world_factory: WorldFactory) -> None:
    world = await world_factory()
    created = await world.client.post(
        "/graphql",
        json={
            "query": 'mutation { createCustomer(input: {idempotencyKey: "c-1", businessId: "'
            + GB_BUSINESS_ID
            + '", name: "Lost Answer Ltd"}) { customer { id } } }'
        },
        headers={"Authorization": f"Bearer {world.token}"},
    )
    customer_id = created.json()["data"]["createCustomer"]["customer"]["id"]

    found = await outcome(world, "c-1", mutation="CREATE_CUSTOMER")

    assert found["status"] == "COMPLETED"
    assert found["result"] == {
        "__typename": "CreateCustomerPayload",
        "replayed": True,
        "customer": {"id": customer_id, "name": "Lost Answer Ltd"},
    }


async def test_a_malformed_key_is_bad_user_input(world_factory: WorldFactory) -> None:
    world = await world_factory()

    response = await world.client.post(
        "/graphql",
        json={"query": OUTCOME, "variables": {"mutation": "PAY_INVOICE", "key": "with space"}},
        headers={"Authorization": f"Bearer {world.token}"},
    )

    body = response.json()
    assert body["data"] == {"mutationOutcome": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


FINALIZE = (
    "mutation($key: String!, $id: ID!) { finalizeInvoice(input: {idempotencyKey: $key, "
    "invoiceId: $id}) { invoice { id } userErrors { code message } replayed } }"
)


async def finalize(world: World, key: str, token: str) -> Json:
    response = await world.client.post(
        "/graphql",
        json={"query": FINALIZE, "variables": {"key": key, "id": INVOICE}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: Json = response.json()
    assert "errors" not in body, body
    payload: Json = body["data"]["finalizeInvoice"]
    return payload


async def test_a_stored_state_refusal_is_authorized_again_on_replay(
    world_factory: WorldFactory, saga_key: rsa.RSAPrivateKey
) -> None:
    # given an open invoice's finalize refused for its state, the refusal stored
    world = await world_factory()
    first = await finalize(world, "finalize-open", world.token)
    assert [e["code"] for e in first["userErrors"]] == ["INVALID_STATE"]
    removed = token(saga_key, SUBJECT, [])

    # when the same user, removed from the business since, replays it or asks about it
    replayed = await finalize(world, "finalize-open", removed)
    found = await outcome(world, "finalize-open", mutation="FINALIZE_INVOICE", token=removed)

    # then they get what a stranger gets, and nothing of the invoice's state
    assert replayed["userErrors"] == [{"code": "NOT_FOUND", "message": "Not found."}]
    assert found["status"] == "COMPLETED"
    assert found["updatedAt"] == found["startedAt"]


async def test_a_caller_who_lost_access_learns_nothing_of_a_settlement(
    world_factory: WorldFactory, saga_key: rsa.RSAPrivateKey
) -> None:
    world = await world_factory(**FAST)
    taken = await transfer(world, key="transfer-then-removed")
    await world.payments.settle(taken["payment"]["id"], "failed")
    await until_done(world, taken["payment"]["id"])
    removed = token(saga_key, SUBJECT, [])

    found = await outcome(world, "transfer-then-removed", token=removed)

    assert (found["status"], found["settlement"], found["step"]) == ("COMPLETED", None, None)
    assert found["updatedAt"] == found["startedAt"]
    assert found["result"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_a_paused_saga_is_not_shown_to_a_caller_who_lost_access(
    world_factory: WorldFactory, saga_key: rsa.RSAPrivateKey
) -> None:
    world = await world_factory()
    await fail_recording(world, times=1)
    await pay(world.client, world.token, "paused-then-removed", INVOICE)
    removed = token(saga_key, SUBJECT, [])

    assert (await outcome(world, "paused-then-removed"))["status"] == "PAUSED"
    assert await outcome(world, "paused-then-removed", token=removed) is None
