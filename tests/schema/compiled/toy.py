"""A small schema for what the gateway's own documents rarely reach: guarded fields
(the real `Owned` and `FieldPolicy`, on toy objects standing for customers and
invoices), resolvers that read more of the info than its context, and the completer
branches for unusual values (an awaitable is_type_of, iterables that are not lists, a
non-null field failing while a sibling is still pending)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission

from app.auth.principal import Principal, Role
from app.schema.types.fields import resolved
from app.schema.types.guards import FieldPolicy, Owned

MINE = "biz_mine"
THEIRS = "biz_theirs"


@dataclass
class Context:
    principal: Principal


def context(role: Role | None, scopes: frozenset[str] | None = None) -> Context:
    memberships = {MINE: role} if role is not None else {}
    return Context(Principal("test", "user_toy", memberships, scopes))


class NamesItsField(BasePermission):
    """Refuses when the context says so: a permission of another kind than FieldPolicy,
    with its own message and extensions."""

    message = "the toy refuses this field"
    error_extensions = {"code": "TOY"}  # noqa: RUF012 - Strawberry's class attribute

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return info.field_name != "refused"


class Upper(FieldExtension):
    """An extension that is neither `Owned` nor a permission: the field keeps Strawberry's
    wrapper."""

    def resolve(self, next_: Any, source: Any, info: strawberry.Info, **kwargs: Any) -> Any:
        return str(next_(source, info, **kwargs)).upper()


async def soon(value: Any) -> Any:
    """The value, after one step of the event loop: an answer that is awaited."""
    await asyncio.sleep(0)
    return value


@strawberry.type
class Checked:
    label: str

    @classmethod
    async def is_type_of(cls, obj: Any, info: Any) -> bool:
        await asyncio.sleep(0)
        return isinstance(obj, Checked) and obj.label != "impostor"

    @strawberry.field
    async def later_label(self) -> str:
        return self.label


@strawberry.type
class Plainly:
    label: str

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, Plainly) and obj.label != "impostor"


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Pet(Named):
    legs: int


class SlowlyRefuses(BasePermission):
    message = "refused after a wait"

    async def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Invoice:
    type_name: ClassVar[str] = "Invoice"
    business_id: strawberry.Private[str]
    number: str
    # The real rule of (Invoice, amountPending): payments:read.
    amount_pending: str | None = strawberry.field(permission_classes=[FieldPolicy])


@strawberry.type
class Customer:
    type_name: ClassVar[str] = "Customer"
    business_id: strawberry.Private[str]
    name: str
    email: str | None = strawberry.field(permission_classes=[FieldPolicy])
    phone: str | None = strawberry.field(permission_classes=[FieldPolicy, NamesItsField])
    refused: str | None = strawberry.field(permission_classes=[NamesItsField])
    invoice_list: strawberry.Private[list[Invoice]]

    @resolved("Owned.", extensions=[Owned("Invoice")])
    def invoices(self, info: strawberry.Info) -> list[Invoice]:
        return self.invoice_list

    @resolved("Owned.", extensions=[Owned("Invoice")])
    def latest(self, info: strawberry.Info) -> Invoice:
        # Answered later, as a page's deferred read is.
        return soon(self.invoice_list[-1])  # type: ignore[return-value]

    @resolved("Owned.", extensions=[Owned("Invoice")])
    def foreign(self) -> Invoice:
        return Invoice(business_id=THEIRS, number="F-1", amount_pending="1.00")

    @resolved("Guarded.", permission_classes=[NamesItsField])
    def where(self, info: strawberry.Info) -> str:
        # Reads graphql-core's info: the lazy one builds it.
        return f"{info.path.as_list()} {info.field_name} {info.python_name}"

    @resolved("Guarded.", permission_classes=[NamesItsField])
    def by_root(self, root: Customer, info: strawberry.Info) -> str:
        return f"{root.name} {info.field_name}"

    @resolved("Guarded, its info named otherwise.", permission_classes=[NamesItsField])
    def renamed(self, i: strawberry.Info) -> str:
        return i.field_name

    @resolved("An async permission.", permission_classes=[SlowlyRefuses])
    def slowly_refused(self) -> str | None:
        return self.name

    @resolved("Another extension.", extensions=[Upper()])
    def shouted(self) -> str:
        return self.name

    @resolved("Guarded.", permission_classes=[NamesItsField])
    async def slowly(self) -> str:
        return self.name


def _customer(name: str, business_id: str = MINE) -> Customer:
    return Customer(
        business_id=business_id,
        name=name,
        email=f"{name}@example.com",
        phone="+44 20",
        refused="never shown",
        invoice_list=[
            Invoice(business_id=MINE, number=f"{name}-1", amount_pending="5.00"),
            Invoice(business_id=THEIRS, number=f"{name}-2", amount_pending="6.00"),
            Invoice(business_id=MINE, number=f"{name}-3", amount_pending=None),
        ],
    )


async def _failing() -> str:
    await asyncio.sleep(0)
    raise ValueError("an item failed later")


def _pending_then_failing() -> Iterator[str]:
    yield "first"
    yield "second"


@strawberry.type
class Query:
    @resolved("Owned.", extensions=[Owned("Customer")])
    def customers(self) -> list[Customer]:
        return [_customer("ann"), _customer("bob"), _customer("eve", THEIRS)]

    @resolved("Owned.", extensions=[Owned("Customer")])
    def customer(self) -> Customer:
        return _customer("cat")

    @strawberry.field
    def checked(self) -> Checked:
        return Checked(label="real")

    @strawberry.field
    def impostor(self) -> Checked | None:
        return Checked(label="impostor")

    @strawberry.field
    def checked_list(self) -> list[Checked]:
        return [Checked(label="one"), Checked(label="two")]

    @strawberry.field
    def generated(self) -> list[str]:
        return _pending_then_failing()  # type: ignore[return-value]

    @strawberry.field
    def as_set(self) -> list[int] | None:
        return {3}  # type: ignore[return-value]

    @strawberry.field
    def not_iterable(self) -> list[int] | None:
        return 3  # type: ignore[return-value]

    @strawberry.field
    async def pending(self) -> str:
        await asyncio.sleep(0)
        return "pending"

    @strawberry.field
    def broken(self) -> str:
        raise ValueError("broken while a sibling is pending")

    @strawberry.field
    def plainly(self) -> Plainly | None:
        return Plainly(label="impostor")

    @strawberry.field
    def named(self) -> Named:
        return Pet(name="Rex", legs=4)

    @strawberry.field
    def errors_as_values(self) -> list[int] | None:
        return ValueError("a list that is an error")  # type: ignore[return-value]

    @strawberry.field
    def error_object(self) -> Plainly | None:
        return ValueError("an object that is an error")  # type: ignore[return-value]

    @strawberry.field
    def error_named(self) -> Named | None:
        return ValueError("an interface value that is an error")  # type: ignore[return-value]

    @strawberry.field
    def error_leaf(self) -> int:
        return ValueError("a non-null leaf that is an error")  # type: ignore[return-value]

    @strawberry.field
    def later_items(self) -> list[str | None]:
        # Awaitable items: one answers, one fails at its own position.
        return [soon("later"), _failing()]  # type: ignore[list-item]

    @strawberry.field
    def items(self) -> list[str]:
        # An awaitable item, then a null in a non-null item: the list fails while the
        # first item is pending.
        return [soon("later"), None]  # type: ignore[list-item]


DOCUMENTS = {
    "field policy per role and scope": "{ customers { name email phone refused } }",
    "owned lists, later and foreign objects": (
        "{ customers { name invoices { number amountPending } latest { number } } }"
    ),
    "a foreign object in a non-null field bubbles": "{ customer { name foreign { number } } }",
    "resolvers reading the info, the root, and an extension": (
        "{ customer { where byRoot shouted slowly alias: where } }"
    ),
    "an awaitable is_type_of": (
        "{ checked { label laterLabel } impostor { label } checkedList { label laterLabel } }"
    ),
    "a refused is_type_of, an interface": (
        "{ plainly { label } named { name ... on Pet { legs } } }"
    ),
    "errors returned as values": "{ errorsAsValues errorObject { label } errorNamed { name } }",
    "an error returned as a non-null leaf": "{ errorLeaf }",
    "awaitable items": "{ laterItems }",
    "an info named otherwise, an async permission": (
        "{ customer { renamed slowlyRefused byRoot } }"
    ),
    "iterables that are not lists": "{ generated asSet notIterable }",
    "a non-null field fails while a sibling is pending": "{ pending broken }",
    "a non-null item fails while another is pending": "{ items pending }",
}
