"""Errors reported beside an answer rather than in its place: an object left out of a
list because it broke its service's contract is one error at the list field's path,
while the list answers with the rest.

They are collected per operation (a context variable: the operations of a batch run
side by side with one request context) and worded with every other error by
app/schema/error_policy.py, which opens the collection around each operation."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError

from app.reads.levels import Listed

ItemT = TypeVar("ItemT")

logger = logging.getLogger("gateway.errors")

_reported: ContextVar[list[GraphQLError] | None] = ContextVar("reported", default=None)


@contextmanager
def collecting() -> Iterator[list[GraphQLError]]:
    """The errors the operation run inside this block reports beside its answer."""
    errors: list[GraphQLError] = []
    token = _reported.set(errors)
    try:
        yield errors
    finally:
        _reported.reset(token)


def shown(info: strawberry.Info[Any, Any], listed: Listed[ItemT] | None) -> list[ItemT]:
    """The objects of a list field (none for None); each object left out of it is
    reported at the field's path."""
    if listed is None:
        return []
    sink = _reported.get()
    for error in listed.omitted:
        located = GraphQLError(
            error.detail,
            # graphql-core's own field nodes: the same locations its errors have.
            nodes=info._raw_info.field_nodes,
            path=info.path.as_list(),
            original_error=error,
        )
        if sink is None:  # pragma: no cover - every schema runs ErrorPolicy
            logger.error("an omitted object had no operation to report to")
        else:
            sink.append(located)
    return listed.items
