"""The ownership and field rules of app/auth/policy.py, applied to the schema.

`Owned` goes on every field that returns an object of a business (or a list or page of
them): before the resolver runs it checks the partner scope for that type (no downstream
call for a refused type); after, it lets through only objects of the caller's businesses.
A test fails if any object-returning field lacks it. `FieldPolicy` guards the fields
in policy.FIELD_RULES (role and scope per field): null plus FORBIDDEN at the path.

A missing scope is refused the same way on every path: one ScopeRequiredError (FORBIDDEN,
the scope in its message and in `extensions.requiredScope`) at the field that needed it.
`node` and `nodes` decide it from the id's type prefix, before anything is read, so a
stranger's id, an unknown id and the caller's own id of that type get the same answer:
the type is all it tells, and the id spells the type anyway. A mutation payload's object
(`Owned.in_payload`) is refused only when there is one to show: a mutation that made
nothing has said why in its userErrors, once.
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
from app.core.ids import type_of
from app.schema.types.field_errors import ForbiddenError, NotFoundError

security_log = logging.getLogger("gateway.security")


class ScopeRequiredError(ForbiddenError):
    """The token lacks a partner scope: FORBIDDEN, naming it in words and in
    `extensions.requiredScope`."""

    def __init__(self, scope: str) -> None:
        super().__init__(policy.scope_refusal(scope))
        self.extensions = {"code": "FORBIDDEN", "requiredScope": scope}
        self.required_scope = scope


class OwnedObject(Protocol):
    @property
    def business_id(self) -> str: ...

    @property
    def type_name(self) -> str: ...


class Owned(FieldExtension):
    def __init__(
        self,
        type_name: str,
        *,
        missing_is_error: bool = True,
        keep_positions: bool = False,
        checked_after: bool = False,
    ) -> None:
        super().__init__()
        self.type_name = type_name
        self.missing_is_error = missing_is_error
        self.keep_positions = keep_positions
        # The scope is checked on what the resolver found, not before: for fields that
        # read nothing (a payload holds its objects), where null is an answer of its own.
        self.checked_after = checked_after

    @classmethod
    def in_payload(cls, type_name: str) -> Owned:
        """A mutation payload's object: null when the mutation made none (its userErrors
        say why); refused for a missing read scope only when there is one to show."""
        return cls(type_name, missing_is_error=False, checked_after=True)

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        principal = self._scope_checked(info, kwargs)
        result = await next_(source, info, **kwargs)
        return self._admitted(principal, result, info, kwargs)

    def resolve(
        self, next_: SyncExtensionResolver, source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        # Sync resolvers answer from data their parent read for the whole level; when it
        # was not read they hand back an awaitable, admitted once it is done.
        principal = self._scope_checked(info, kwargs)
        result = next_(source, info, **kwargs)
        if inspect.isawaitable(result):
            return self._admitted_later(principal, result, info, kwargs)
        return self._admitted(principal, result, info, kwargs)

    def _scope_checked(self, info: strawberry.Info, kwargs: dict[str, Any]) -> Principal:
        principal: Principal = info.context.principal
        if self.checked_after:
            return principal
        if self.type_name in policy.TYPE_READ_SCOPES:
            missing = policy.missing_read_scope(principal, self.type_name)
        else:
            # `node(id)`: the type the id names, whatever becomes of the id.
            missing = _missing_for_id(principal, kwargs.get("id"))
        if missing is not None:
            raise ScopeRequiredError(missing)
        return principal

    async def _admitted_later(
        self,
        principal: Principal,
        result: Awaitable[Any],
        info: strawberry.Info,
        kwargs: dict[str, Any],
    ) -> Any:
        return self._admitted(principal, await result, info, kwargs)

    def _admitted(
        self, principal: Principal, result: Any, info: strawberry.Info, kwargs: dict[str, Any]
    ) -> Any:
        if self.checked_after and result is not None:
            missing = policy.missing_read_scope(principal, self.type_name)
            if missing is not None:
                raise ScopeRequiredError(missing)
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
                return self._positions(principal, result, info, kwargs.get("ids"))
            return [item for item in result if self._visible(principal, item, info)]
        if self._visible(principal, result, info):
            return result
        if self.missing_is_error:
            raise NotFoundError
        return None

    def _positions(
        self, principal: Principal, result: list[Any], info: strawberry.Info, ids: Any
    ) -> list[Any]:
        """`nodes`: each position answers for its own id. An error there (an object that
        broke its contract, a type the token may not read) stays at that position."""
        wanted = list(ids) if isinstance(ids, list) and len(ids) == len(result) else None
        kept: list[Any] = []
        for index, item in enumerate(result):
            missing = _missing_for_id(principal, wanted[index]) if wanted else None
            if missing is not None:
                kept.append(ScopeRequiredError(missing))
            elif isinstance(item, Exception) or (
                item is not None and self._visible(principal, item, info)
            ):
                kept.append(item)
            else:
                kept.append(None)
        return kept

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
        denial = policy.check(info.context.principal, source.business_id, rule)
        if denial is policy.Denial.SCOPE and rule.scope is not None:
            # The scope's own wording, as everywhere else: raised, as a bool cannot say it.
            raise ScopeRequiredError(rule.scope)
        return denial is None


def _missing_for_id(principal: Principal, object_id: object) -> str | None:
    """The scope the token lacks to read the type an id names (None for an id that names
    no type: that is "not found", decided later like any other)."""
    type_name = type_of(str(object_id)) if object_id is not None else None
    if type_name is None:
        return None
    return policy.missing_read_scope(principal, type_name)
