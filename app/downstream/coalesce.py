"""Single flight: identical downstream GETs in flight at once, from concurrent requests,
share one exchange. Safe for reads because nothing a service answers is trusted as the
caller's: ownership and the field rules are checked per request on what was read, and
every waiter parses the shared bytes into objects of its own, as if it had called.

Only while the exchange is in flight: once it completes, the next identical GET goes
out again (nothing is cached). Its outcome, an answer or an error, reaches every waiter.
The exchange runs in a task of its own under the first caller's deadline, retries and
tally; a waiter cancelled (its request gave up) leaves it running for the others, and it
is cancelled only when the last waiter has gone. Identical means the same service (one
SingleFlight per channel), path and query: the headers that differ between callers
(X-Request-Id, traceparent) do not change a service's answer. A waiter never waits
past its own deadline for it: it joined an exchange started before it, by a request with
the same budget, so the first caller's deadline ends first.

Only a query's reads take part (ServiceClient's `share_reads`, set by the endpoint when
every operation of the request is a query): a mutation's reads must see the service as
it is after its lock or its writes, not as a read that started earlier saw it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class _Flight(Generic[T]):
    task: asyncio.Task[T]
    waiters: int = 0


@dataclass(slots=True)
class SingleFlight(Generic[T]):
    _flights: dict[Hashable, _Flight[T]] = field(default_factory=dict)
    # Exchanges shared rather than made, since start-up (for tests and the request log).
    joined: int = 0

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """`call`'s outcome, from a flight already under way for `key` when there is one,
        and whether it was shared (joined) rather than made."""
        flight = self._flights.get(key)
        joined = flight is not None and not flight.task.done()
        if flight is None or not joined:
            flight = _Flight(asyncio.ensure_future(call()))
            self._flights[key] = flight
            flight.task.add_done_callback(lambda task: self._landed(key, task))
        else:
            self.joined += 1
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task), joined
        except asyncio.CancelledError:
            if flight.waiters == 1 and not flight.task.done():
                flight.task.cancel()
            raise
        finally:
            flight.waiters -= 1

    def _landed(self, key: Hashable, task: asyncio.Task[T]) -> None:
        if (flight := self._flights.get(key)) is not None and flight.task is task:
            del self._flights[key]
        # Retrieved here, so that a failure whose every waiter left is not reported by
        # asyncio as never retrieved; the waiters still get it from the task.
        if not task.cancelled():
            task.exception()

    def in_flight(self) -> int:
        return len(self._flights)
