"""Typed wrappers for resolver fields.

`@strawberry.field(description=...)` used as a decorator is untyped for mypy; these keep
the resolver's return type, so schema classes stay checked under --strict.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

import strawberry
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission

T = TypeVar("T")


# Field metadata marking a value field that still reads downstream (through the request's
# loaders): the cost model counts it like an object-returning field (app/schema/limits/cost.py).
READS_DOWNSTREAM = "reads_downstream"


def resolved(
    description: str,
    *,
    extensions: Sequence[FieldExtension] = (),
    permission_classes: Sequence[type[BasePermission]] = (),
    name: str | None = None,
    reads_downstream: bool = False,
) -> Callable[[Callable[..., T]], T]:
    def decorate(resolver: Callable[..., T]) -> T:
        field: Any = strawberry.field(
            resolver=resolver,
            description=description,
            extensions=list(extensions),
            permission_classes=list(permission_classes),
            name=name,
            metadata={READS_DOWNSTREAM: True} if reads_downstream else None,
        )
        return field  # type: ignore[no-any-return]

    return decorate


def deferred(awaitable: Awaitable[T]) -> T:
    """A sync resolver's answer that is not read yet (graphql-core awaits what a resolver
    returns when it is awaitable), typed as its result so the field keeps its type. Lets
    a resolver answer at once from data its parent read for the whole level, and read
    on its own only when nobody did."""
    return cast(T, awaitable)
