"""The ownership and field rules of app/auth/policy.py, applied to the schema.

`Owned` goes on every field that returns an object of a business (or a list or page of
them): before the resolver runs it checks the partner scope for that type (no downstream
call for a refused type); after, it lets through only objects of the caller's businesses.
A test fails if any object-returning field lacks it. `FieldPolicy` guards the fields
in policy.FIELD_RULES (role and scope per field): null plus FORBIDDEN at the path.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable
from typing import Any, Protocol

import strawberry
from strawberry.extensions.field_extension import (
    AsyncExtensionResolver,
    FieldExtension,
    SyncExtensionResolver,
)
from strawberry.permission import BasePermission

from app.auth import policy
from app.auth.principal import Principal
from app.schema.types.field_errors import ForbiddenError, NotFoundError

security_log = logging.getLogger("gateway.security")


class OwnedObject(Protocol):
    @property
    def business_id(self) -> str: ...

    @property
    def type_name(self) -> str: ...


class Owned(FieldExtension):
    def __init__(
        self, type_name: str, *, missing_is_error: bool = True, keep_positions: bool = False
    ) -> None:
        super().__init__()
        self.type_name = type_name
        self.missing_is_error = missing_is_error
        self.keep_positions = keep_positions

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        principal = self._scope_checked(info)
        result = await next_(source, info, **kwargs)
        return self._admitted(principal, result, info)

    def resolve(
        self, next_: SyncExtensionResolver, source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        # Sync resolvers answer from data their parent read for the whole level; when it
        # was not read they hand back an awaitable, admitted once it is done.
        principal = self._scope_checked(info)
        result = next_(source, info, **kwargs)
        if inspect.isawaitable(result):
            return self._admitted_later(principal, result, info)
        return self._admitted(principal, result, info)

    def _scope_checked(self, info: strawberry.Info) -> Principal:
        principal: Principal = info.context.principal
        if self.type_name in policy.TYPE_READ_SCOPES and not policy.may_read_type(
            principal, self.type_name
        ):
            raise ForbiddenError("This token's scopes do not allow reading this.")
        return principal

    async def _admitted_later(
        self, principal: Principal, result: Awaitable[Any], info: strawberry.Info
    ) -> Any:
        return self._admitted(principal, await result, info)

    def _admitted(self, principal: Principal, result: Any, info: strawberry.Info) -> Any:
        if result is None:
            if self.missing_is_error:
                raise NotFoundError
            return None
        edges = getattr(result, "edges", None)
        if edges is not None:
            result.edges = [edge for edge in edges if self._visible(principal, edge.node, info)]
            return result
        if isinstance(result, list):
            if self.keep_positions:
                # An error at a position (an object that broke its contract) stays there.
                return [
                    item
                    if isinstance(item, Exception)
                    or (item is not None and self._visible(principal, item, info))
                    else None
                    for item in result
                ]
            return [item for item in result if self._visible(principal, item, info)]
        if self._visible(principal, result, info):
            return result
        if self.missing_is_error:
            raise NotFoundError
        return None

    @staticmethod
    def _visible(principal: Principal, item: OwnedObject, info: strawberry.Info) -> bool:
        if not policy.admits(principal, item.business_id):
            # The read service admits before this; reaching here means a path forgot.
            security_log.error(
                "object of a foreign business stopped at the schema boundary",
                extra={"event": "ownership_violation", "field": info.field_name},
            )
            return False
        return policy.may_read_type(principal, item.type_name)


class FieldPolicy(BasePermission):
    message = "Your role or token scope does not allow reading this field."
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 - Strawberry's class attribute

    # Synchronous: the check is pure in-memory work (the token's role and scopes), and
    # `async def` is for checks that do I/O. An async one made every guarded field a
    # coroutine, and each invoice with one a task (bench/profiles/NOTE.md: 7% of CPU).
    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        rule = policy.FIELD_RULES[(source.type_name, info.field_name)]
        return policy.check(info.context.principal, source.business_id, rule) is None
