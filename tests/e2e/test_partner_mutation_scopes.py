"""Partner scopes on mutations and their payloads: one refusal, in one place.

Without the write scope the mutation is refused in its userErrors (FORBIDDEN, naming the
scope) and its payload objects are simply null: nothing was made, so there is nothing
to refuse a second time. With the write scope but not a payload object's read scope, the
write is done and that object is null with one FORBIDDEN naming the read scope, the
shape every read refusal has (tests/e2e/test_partner_scopes.py). The scopes are written
down here from the contracts README, not read back from app/auth/policy.py.
"""

from __future__ import annotations

import httpx
import pytest

from app.auth.principal import Role
from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.conftest import Downstreams, TokenFactory
from tests.e2e.matrix_helpers import at, by_path
from tests.e2e.mutation_helpers import JSON, SPECS, Sandbox, Spec, execute, valid_input
from tests.e2e.scope_table import refused

WRITE_SCOPE = {
    "createCustomer": "customers:write",
    "createInvoice": "invoices:write",
    "finalizeInvoice": "invoices:write",
    "voidInvoice": "invoices:write",
    "payInvoice": "payments:write",
    "refundPayment": "payments:write",
}
READ_SCOPE = {
    "customer": "customers:read",
    "invoice": "invoices:read",
    "payment": "payments:read",
    "refund": "payments:read",
}
# (write scope held, payload objects' read scopes held)
GRANTS = [(False, False), (False, True), (True, False), (True, True)]


def _grant(grant: tuple[bool, bool]) -> str:
    return f"write={'yes' if grant[0] else 'no'},read={'yes' if grant[1] else 'no'}"


@pytest.mark.parametrize("grant", GRANTS, ids=_grant)
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_a_mutation_answers_a_missing_scope_once(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    spec: Spec,
    grant: tuple[bool, bool],
) -> None:
    # Given an owner's partner token with or without the write scope and the read scopes
    write, read = grant
    scopes = [WRITE_SCOPE[spec.name]] if write else []
    scopes += sorted({READ_SCOPE[name] for name in spec.objects}) if read else []
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], scopes=scopes)
    sandbox = Sandbox(downstreams)
    await sandbox.take()
    ids_only = dict.fromkeys(spec.objects, "id")
    document = spec.document(ids_only)

    # When it runs the mutation, selecting the payload's objects
    answer = await execute(gateway, spec, token, valid_input(spec, "scoped"), ids_only)

    # Then the whole answer is the one refusal that applies, or the objects
    assert answer.status == 200
    body = answer.body
    if not write:
        message = f"This token lacks the scope {WRITE_SCOPE[spec.name]}, which this needs."
        assert body == {"data": {spec.name: spec.failed("FORBIDDEN", message, "input",
                                                        spec.id_field)}}  # fmt: skip
        assert await sandbox.take_posts() == []
        return
    payload = body["data"][spec.name]
    assert (payload["userErrors"], payload["replayed"]) == ([], False)
    if read:
        assert "errors" not in body
        assert all(payload[name] is not None for name in spec.objects), payload
        return
    assert payload == {**dict.fromkeys(spec.objects), "userErrors": [], "replayed": False}
    expected: list[JSON] = [
        refused(READ_SCOPE[name], [spec.name, name], at(document, f"{name} {{ id }}"))
        for name in spec.objects
    ]
    assert by_path(body["errors"]) == by_path(expected)
