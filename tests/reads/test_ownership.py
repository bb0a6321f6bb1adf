"""The ownership enforcer: an object exists for a caller only in the caller's businesses,
and an object a service links to another business than its parent's is dropped and
logged, never shown."""

from __future__ import annotations

import logging

import pytest

from app.auth.principal import Principal, Role
from app.downstream import models
from app.downstream.checked import BrokenObject
from app.downstream.errors import DownstreamInvalidObjectError
from app.reads.levels import Listed
from app.reads.ownership import OwnershipEnforcer

MINE, THEIRS = "biz_mine0001", "biz_theirs01"


def customer(customer_id: str, business_id: str) -> models.Customer:
    return models.Customer.model_validate(
        {
            "id": customer_id,
            "object": "customer",
            "business_id": business_id,
            "name": "Ada",
            "email": None,
            "created_at": "2026-01-02T03:04:05Z",
        }
    )


@pytest.fixture
def enforcer() -> OwnershipEnforcer:
    return OwnershipEnforcer(
        Principal(issuer="https://id.test/", subject="user_1", memberships={MINE: Role.VIEWER})
    )


def test_only_the_callers_businesses_exist(enforcer: OwnershipEnforcer) -> None:
    mine, theirs = customer("cus_0001", MINE), customer("cus_0002", THEIRS)

    assert enforcer.admits(MINE) is True
    assert enforcer.admits(THEIRS) is False
    assert enforcer.admitted(mine) is mine
    # another business's object and a missing one are the same answer
    assert enforcer.admitted(theirs) is None
    assert enforcer.admitted(None) is None


def test_a_child_of_another_business_than_its_parent_is_dropped_and_logged(
    enforcer: OwnershipEnforcer, caplog: pytest.LogCaptureFixture
) -> None:
    # given a service that links a parent of my business to another business's customer
    linked = customer("cus_0002", THEIRS)

    # when the edge is followed
    with caplog.at_level(logging.WARNING, logger="gateway.security"):
        found = enforcer.child(MINE, linked, "Invoice.customer")

    # then nothing is shown, and the security log names the edge
    assert found is None
    assert [
        (r.getMessage(), r.__dict__["edge"], r.__dict__["dropped"]) for r in caplog.records
    ] == [("downstream linked an object of another business", "Invoice.customer", 1)]


def test_children_keep_only_the_parents_business(
    enforcer: OwnershipEnforcer, caplog: pytest.LogCaptureFixture
) -> None:
    kept, foreign = customer("cus_0001", MINE), customer("cus_0002", THEIRS)

    with caplog.at_level(logging.WARNING, logger="gateway.security"):
        found = enforcer.children(MINE, [kept, foreign, foreign], "Invoice.payments")

    assert found == Listed(items=[kept])
    assert [r.__dict__["dropped"] for r in caplog.records] == [2]


def test_a_child_of_the_parents_business_is_still_admitted_by_membership() -> None:
    # given a caller who is not a member of the parent's business either
    stranger = OwnershipEnforcer(
        Principal(issuer="https://id.test/", subject="user_2", memberships={})
    )

    # then an edge within that business shows nothing, without a security event
    assert stranger.child(MINE, customer("cus_0001", MINE), "Invoice.customer") is None
    assert stranger.children(MINE, [customer("cus_0001", MINE)], "Invoice.payments") == Listed(
        items=[]
    )


def broken(object_id: str | None, business_id: str | None, kind: str = "Customer") -> BrokenObject:
    links = tuple(
        (name, value)
        for name, value in (("id", object_id), ("business_id", business_id))
        if value is not None
    )
    return BrokenObject("invoicing", kind, links, (("missing", "name"),), id_prefix="cus_")


def test_a_broken_object_asked_for_by_id_is_an_error_only_if_it_names_the_callers_business(
    enforcer: OwnershipEnforcer,
) -> None:
    # Then one of mine is reported broken (its position says which; no id needed)
    with pytest.raises(DownstreamInvalidObjectError) as raised:
        enforcer.admitted(broken("cus_0001", MINE))
    assert raised.value.shown_id is None
    # and one of another business, or of no business it says, is simply not found:
    # "broken" would confirm that the id exists
    assert enforcer.admitted(broken("cus_0002", THEIRS)) is None
    assert enforcer.admitted(broken("cus_0003", None)) is None


def test_a_broken_child_is_an_error_unless_it_names_another_business(
    enforcer: OwnershipEnforcer, caplog: pytest.LogCaptureFixture
) -> None:
    for owner in (MINE, None):
        with pytest.raises(DownstreamInvalidObjectError):
            enforcer.child(MINE, broken("cus_0001", owner), "Invoice.customer")

    with caplog.at_level(logging.WARNING, logger="gateway.security"):
        assert enforcer.child(MINE, broken("cus_0002", THEIRS), "Invoice.customer") is None
    assert [r.__dict__["event"] for r in caplog.records] == ["downstream_foreign_object"]


def test_broken_objects_left_out_of_a_list_name_their_id_only_in_their_business(
    enforcer: OwnershipEnforcer,
) -> None:
    kept = customer("cus_0001", MINE)
    entries: list[models.Customer | BrokenObject] = [
        kept,
        broken("cus_0002", MINE),
        broken("cus_0003", THEIRS),
        broken("cus_0004", None),
        broken("cus_bad-shape", MINE),
        broken(None, MINE),
    ]

    listed = enforcer.children(MINE, entries, "Invoice.payments")

    assert listed.items == [kept]
    assert [error.shown_id for error in listed.omitted] == ["cus_0002", None, None, None, None]
