"""Partner scopes, path by path: every way to reach an object or a guarded field, under
every kind of scope set, with the whole answer (data and the whole `errors` list).

A missing scope is refused in one shape everywhere (written down here, not read back from
app/auth/policy.py): FORBIDDEN at the field that needed it, the scope named in the
message and in `extensions.requiredScope`, exactly once, nothing of that type fetched.
It depends on the token alone: an id of a type the scopes cannot read gets the same
answer whether it is the caller's, a stranger's or nobody's. With the scope, a stranger's
object is NOT_FOUND exactly like a missing one.
"""

from __future__ import annotations

import httpx
import pytest

from app.auth.principal import Role
from sandbox.seed import GB_CUSTOMER_ID, IN_CUSTOMER_ID, IN_OPEN_INVOICE_ID
from tests.e2e.conftest import Downstreams, TokenFactory
from tests.e2e.matrix_helpers import JSON, Calls, at, by_path, run
from tests.e2e.scope_table import (
    GB,
    IN_REFUND,
    OPEN_INVOICE,
    PROBES,
    READS,
    REFUND,
    REFUNDED,
    SCOPE_SETS,
    UNFETCHED,
    refused,
)


def _label(scopes: list[str] | None) -> str:
    return "first-party" if scopes is None else " ".join(scopes) or "empty"


def test_the_table_reaches_every_type_a_scope_guards() -> None:
    scopes = {step.scope for probe in PROBES for step in probe.steps}
    assert scopes == set(READS)
    assert len({p.name for p in PROBES}) == len(PROBES)


@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=_label)
async def test_every_path_answers_a_missing_scope_in_one_shape(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    scopes: list[str] | None,
) -> None:
    # Given an owner of GB (whose role may read everything) with these scopes
    token = token_for([(GB.id, Role.OWNER)], scopes=scopes)
    calls = Calls(downstreams)
    await calls.take()
    answers: dict[str, JSON] = {}
    expected: dict[str, JSON] = {}
    fetched: dict[str, list[str]] = {}

    # When it makes every read
    for probe in PROBES:
        answer = await run(gateway, probe.document, token)
        assert answer.status == 200, probe.name
        want, unfetched = probe.expected(scopes)
        answers[probe.name], expected[probe.name] = answer.body, want
        made = await calls.take()
        fetched[probe.name] = [c.path for c in made if c.path.startswith(unfetched or ("~",))]

    # Then each answer is exactly the table's, and a refused type was never fetched
    assert answers == expected
    assert fetched == {name: [] for name in fetched}


NODES_IDS = [
    GB.id,
    GB_CUSTOMER_ID,
    IN_CUSTOMER_ID,
    OPEN_INVOICE.id,
    REFUNDED.id,
    REFUND.id,
    "inv_doesnotexist",
    "not-an-id",
]
NODES_DOCUMENT = "query Q($ids: [ID!]!) { nodes(ids: $ids) { id } }"
_SCOPE_OF = {"cus_": "customers:read", "inv_": "invoices:read", "pay_": "payments:read",
             "re_": "payments:read"}  # fmt: skip
_MINE = {GB.id, GB_CUSTOMER_ID, OPEN_INVOICE.id, REFUNDED.id, REFUND.id}


@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=_label)
async def test_nodes_answers_each_position_for_its_own_id(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    scopes: list[str] | None,
) -> None:
    # Given the caller's ids of every type, a stranger's, nobody's and a malformed one
    token = token_for([(GB.id, Role.OWNER)], scopes=scopes)
    calls = Calls(downstreams)
    await calls.take()

    # When it asks for all of them at once
    answer = await run(gateway, NODES_DOCUMENT, token, {"ids": NODES_IDS})

    # Then each position it may not read is null with its own refusal; the others are
    # the object, or null (not found and foreign alike, without an error)
    data: list[JSON | None] = []
    errors: list[JSON] = []
    for index, node_id in enumerate(NODES_IDS):
        scope = next((s for p, s in _SCOPE_OF.items() if node_id.startswith(p)), None)
        if scopes is not None and scope is not None and scope not in scopes:
            data.append(None)
            errors.append(refused(scope, ["nodes", index], at(NODES_DOCUMENT, "nodes(")))
        else:
            data.append({"id": node_id} if node_id in _MINE else None)
    assert answer.status == 200
    assert {**answer.body, "errors": by_path(answer.body.get("errors", []))} == {
        "data": {"nodes": data},
        "errors": by_path(errors),
    }
    # and no type it may not read was fetched
    unfetched = tuple(p for s in READS if scopes is not None and s not in scopes
                      for p in UNFETCHED[s])  # fmt: skip
    assert [c.path for c in await calls.take() if c.path.startswith(unfetched or ("~",))] == []


@pytest.mark.parametrize(
    ("mine", "strangers", "nobodys"),
    [
        (GB_CUSTOMER_ID, IN_CUSTOMER_ID, "cus_doesnotexist"),
        (OPEN_INVOICE.id, IN_OPEN_INVOICE_ID, "inv_doesnotexist"),
        (REFUND.id, IN_REFUND.id, "re_doesnotexist"),
    ],
)
@pytest.mark.parametrize("root", ["node", "nodes"])
async def test_outside_the_scopes_an_id_tells_nothing_about_its_object(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    root: str,
    mine: str,
    strangers: str,
    nobodys: str,
) -> None:
    # Given a token with every scope but the one these ids' type needs
    needed = next(s for p, s in _SCOPE_OF.items() if mine.startswith(p))
    token = token_for([(GB.id, Role.OWNER)], scopes=[s for s in READS if s != needed])
    calls = Calls(downstreams)
    await calls.take()
    document = (
        "query Q($id: ID!) { node(id: $id) { id } }"
        if root == "node"
        else "query Q($id: ID!) { nodes(ids: [$id]) { id } }"
    )

    # When it asks for its own, a stranger's and a missing object of that type
    ids = (mine, strangers, nobodys)
    answers = [(await run(gateway, document, token, {"id": i})).body for i in ids]

    # Then all three get the same refusal, and nothing is asked downstream
    path: list[str | int] = ["node"] if root == "node" else ["nodes", 0]
    data: JSON = {"node": None} if root == "node" else {"nodes": [None]}
    expected = {"data": data, "errors": [refused(needed, path, at(document, f"{root}("))]}
    assert answers == [expected, expected, expected]
    assert await calls.take() == []
