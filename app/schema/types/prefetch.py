"""Selection-aware prefetch: a parent that knows which children the query selected starts
their reads together with its own, so the downstream calls of one level go out at once.

Used where a parent's id alone admits the children: `business(id)` is admitted from the
token's memberships, so its balance and invoice page can be asked for while the business
itself is read. A child the field rules or scopes would refuse is not prefetched, nor is
anything under a directive (@skip/@include) or with arguments the child would reject:
the child's own resolver then does exactly what it did before, with its own errors.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Any

import strawberry
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from app.auth import policy
from app.core.ids import is_object_id
from app.schema.types.field_errors import BadUserInputError
from app.schema.types.pagination import decode_cursor, page_size
from app.schema.types.ports import SchemaContext

InvoiceListing = tuple[int, str | None, str | None, str | None]


class Unusable:
    """An argument value the prefetch cannot read: it leaves the field to its resolver."""


UNUSABLE = Unusable()


def invoice_listing(
    first: int | None, after: str | None, status_name: str | None, customer_id: str | None
) -> InvoiceListing | None:
    """(limit, starting_after, status, customer id) of an invoice page; None when no
    listing is needed (a customer id that is not one matches nothing). Raises
    BadUserInputError for a bad page size or cursor."""
    limit = page_size(first)
    starting_after = decode_cursor(after, "inv_")
    customer_id = customer_id or None
    if customer_id is not None and not is_object_id(customer_id, "cus_"):
        return None
    return limit, starting_after, status_name.lower() if status_name else None, customer_id


def _fields(selections: list[Selection]) -> Iterator[SelectedField]:
    for selection in selections:
        if selection.directives:
            continue
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, InlineFragment | FragmentSpread):
            yield from _fields(selection.selections)


def _allowed(context: SchemaContext, business_id: str, type_name: str, field: str) -> bool:
    principal = context.principal
    if not policy.may_read_type(principal, type_name):
        return False
    rule = policy.FIELD_RULES.get(("Business", field))
    return rule is None or policy.check(principal, business_id, rule) is None


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _page_size_argument(value: Any) -> int | Unusable | None:
    """`first` as the resolver will get it: a variable arrives coerced (int), a literal
    as its text (validation already made sure it is an Int)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return UNUSABLE
    return UNUSABLE


def _enum_name(value: Any) -> str | None:
    """A literal enum arrives as its name, a variable as the coerced Python enum."""
    if isinstance(value, enum.Enum):
        return value.name
    return _optional_str(value)


def business_children(info: strawberry.Info[Any, Any], business_id: str) -> None:
    context: SchemaContext = info.context
    reads = context.reads
    for root in info.selected_fields:
        for field in _fields(root.selections):
            if field.name == "balance" and _allowed(context, business_id, "Balance", "balance"):
                reads.prefetch_balance(business_id)
            elif field.name == "invoices" and _allowed(context, business_id, "Invoice", "invoices"):
                arguments = field.arguments
                first = _page_size_argument(arguments.get("first", 20))
                if isinstance(first, Unusable):
                    continue
                try:
                    listing = invoice_listing(
                        first,
                        _optional_str(arguments.get("after")),
                        _enum_name(arguments.get("status")),
                        _optional_str(arguments.get("customerId")),
                    )
                except BadUserInputError:
                    continue
                if listing is not None:
                    limit, starting_after, status, customer_id = listing
                    reads.prefetch_invoices_page(
                        business_id,
                        limit=limit,
                        starting_after=starting_after,
                        status=status,
                        customer_id=customer_id,
                    )


def _named(selections: list[Selection], name: str) -> Iterator[SelectedField]:
    return (field for field in _fields(selections) if field.name == name)


def invoice_children_wanted(info: strawberry.Info[Any, Any]) -> tuple[bool, bool, bool]:
    """Whether an invoice page's nodes select customer, payments, and payments' refunds,
    each only where the token's scopes let it be read at all (`Owned` refuses the rest
    without a downstream call, and so does this)."""
    principal = info.context.principal
    customers = payments = refunds = False
    for root in info.selected_fields:
        for edges in _named(root.selections, "edges"):
            for node in _named(edges.selections, "node"):
                for field in _fields(node.selections):
                    if field.name == "customer":
                        customers = True
                    elif field.name == "amountPending":
                        payments = True
                    elif field.name == "payments":
                        payments = True
                        refunds = refunds or any(True for _ in _named(field.selections, "refunds"))

    payments = payments and policy.may_read_type(principal, "Payment")
    return (
        customers and policy.may_read_type(principal, "Customer"),
        payments,
        payments and refunds and policy.may_read_type(principal, "Refund"),
    )
