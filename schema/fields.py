"""Typed wrappers for resolver fields.

`@strawberry.field(description=...)` used as a decorator is untyped for mypy; these keep
the resolver's return type, so schema classes stay checked under --strict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import strawberry
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission

T = TypeVar("T")


def resolved(
    description: str,
    *,
    extensions: Sequence[FieldExtension] = (),
    permission_classes: Sequence[type[BasePermission]] = (),
    name: str | None = None,
) -> Callable[[Callable[..., T]], T]:
    def decorate(resolver: Callable[..., T]) -> T:
        field: Any = strawberry.field(
            resolver=resolver,
            description=description,
            extensions=list(extensions),
            permission_classes=list(permission_classes),
            name=name,
        )
        return field  # type: ignore[no-any-return]

    return decorate
