"""A mutation whose own records' database stops answering part-way is answered with a
typed, retryable problem, never an internal error.

The chaos run (deploy/local/reports/chaos.md) restarted PostgreSQL under load: 163
mutations that lost the database after their key was claimed answered a GraphQL
`Internal error`. Nothing was lost (a retry with the same key resumed from the key's
recovery point, and the downstream keys are derived from it, so nothing is charged
twice), but the caller could not tell "retry with this key" from a bug. A database that
refused a statement (a bug, a constraint) is not this, and still propagates.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from app.mutations.outcomes import Outcome
from app.mutations.placement import unavailable
from app.residency.regions import DATABASE_ERRORS, is_unreachable

logger = logging.getLogger("gateway.mutations")

S = TypeVar("S")
C = TypeVar("C")


def records_guarded(
    method: Callable[[S, C], Awaitable[Outcome]],
) -> Callable[[S, C], Awaitable[Outcome]]:
    @functools.wraps(method)
    async def guarded(self: S, command: C) -> Outcome:
        try:
            return await method(self, command)
        except DATABASE_ERRORS as exc:
            if not is_unreachable(exc):
                raise
            # The lease could not be released either: it expires, and a retry with the
            # same key resumes where this one stopped.
            logger.warning(
                "records unreachable during a mutation",
                extra={"operation": method.__name__, "error": type(exc).__name__},
            )
            return unavailable()

    return guarded
