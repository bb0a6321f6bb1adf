"""Relay-style pages over the downstream `limit` / `starting_after` listings.

A cursor is opaque to clients: it encodes the id of the last object of a page, which is
what the downstream listing continues after. It is validated before use, so a forged
cursor is a BAD_USER_INPUT, never a downstream 400.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from app.core.ids import is_object_id
from app.schema.types.field_errors import BadUserInputError
from app.schema.types.values import PageInfo

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# `nodes(ids:)` takes at most this many ids.
MAX_NODES = 100
_CURSOR_VERSION = "v1:"

NodeT = TypeVar("NodeT")


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise BadUserInputError(f"first must be between 1 and {MAX_PAGE_SIZE}.")
    return first


def given_cursor(value: str | None) -> str | None:
    """`after` as given: UNSET (omitted) and null both mean "from the start"; "" is a
    bad cursor."""
    return None if value is None or value is strawberry.UNSET else value


def encode_cursor(object_id: str) -> str:
    raw = (_CURSOR_VERSION + object_id).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, prefix: str) -> str | None:
    if cursor is None:
        return None
    invalid = BadUserInputError("after is not a cursor of this list.")
    if len(cursor) > 64:
        raise invalid
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    object_id = raw.removeprefix(_CURSOR_VERSION)
    if raw == object_id or not is_object_id(object_id, prefix):
        raise invalid
    return object_id


@strawberry.type(description="One item of a page, with the cursor that points at it.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(description="Pass as `after` to continue after this item.")
    node: NodeT = strawberry.field(description="The item.")


@strawberry.type(description="A page of items, newest first.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Where this page ends.")

    @classmethod
    def of(
        cls, nodes: Sequence[NodeT], has_more: bool, id_of: Callable[[NodeT], str]
    ) -> Connection[NodeT]:
        edges = [Edge(cursor=encode_cursor(id_of(node)), node=node) for node in nodes]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=has_more, end_cursor=edges[-1].cursor if edges else None
            ),
        )
