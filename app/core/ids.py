"""The contracts' id shapes. An id that does not have one is never sent downstream: it
names nothing, and a comma in it would smuggle a second id into a batch read."""

from __future__ import annotations

import re

_SHAPE = re.compile(r"(biz|cus|inv|pay|re)_[A-Za-z0-9]{1,32}")
TYPE_OF_PREFIX = {
    "biz_": "Business",
    "cus_": "Customer",
    "inv_": "Invoice",
    "pay_": "Payment",
    "re_": "Refund",
}


def is_object_id(value: str, prefix: str) -> bool:
    return value.startswith(prefix) and _SHAPE.fullmatch(value) is not None


def type_of(object_id: str) -> str | None:
    """The GraphQL type a well-formed id names; None for anything else."""
    if _SHAPE.fullmatch(object_id) is None:
        return None
    return TYPE_OF_PREFIX[object_id[: object_id.index("_") + 1]]
