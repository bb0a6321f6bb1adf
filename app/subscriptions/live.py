"""What a subscription's resolver works with: the session of one authenticated live
connection (`LiveSession`) and the context the schema sees (`LiveContext`).

Decisions:
- A fresh read service per delivered event. A subscription lives for minutes or hours;
  the request-scoped read service caches objects in its loaders and carries one
  request's deadline. Each event gets its own (new loaders, a new deadline), set as the
  current one before the event is yielded: the fields the client selected under it
  (`payment { invoice { ... } }`) then read through it, in the same task, because
  graphql-core executes each event in the task that iterates the subscription.
- The stream ends at the token's `exp`, with UNAUTHENTICATED: a connection does not
  outlive the credential it was opened with. The client reconnects with a fresh token.
- Errors are typed (`extensions.code`): TOO_MANY_SUBSCRIPTIONS, SLOW_CONSUMER,
  UNAUTHENTICATED. Each ends the stream; nothing else is sent on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from graphql import GraphQLError

from app.auth.principal import Principal
from app.events.envelope import Event, EventType
from app.mutations.service import MutationService
from app.reads.service import ReadService
from app.subscriptions.hub import Hub, SlowConsumerError, Subscriber, SubscriptionLimitError
from app.telemetry.subscriptions import SubscriptionMetrics

logger = logging.getLogger(__name__)
T = TypeVar("T")
_CURRENT_READS: ContextVar[ReadService | None] = ContextVar("live_reads", default=None)


class TooManySubscriptionsError(GraphQLError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"At most {limit} subscriptions may be open at once per caller; close one first.",
            extensions={"code": "TOO_MANY_SUBSCRIPTIONS", "limit": limit},
        )


class SlowSubscriberError(GraphQLError):
    def __init__(self) -> None:
        super().__init__(
            "This subscription fell too far behind and was closed; subscribe again and "
            "re-read the current state.",
            extensions={"code": "SLOW_CONSUMER"},
        )


class TokenExpiredError(GraphQLError):
    def __init__(self) -> None:
        super().__init__(
            "The token expired; reconnect with a fresh one.",
            extensions={"code": "UNAUTHENTICATED"},
        )


@dataclass(slots=True)
class LiveSession:
    principal: Principal
    # The token's `exp`, seconds since the epoch.
    expires_at: float
    transport: str
    hub: Hub
    metrics: SubscriptionMetrics
    # A new read service: its own loaders and its own deadline.
    make_reads: Callable[[], ReadService]
    # The mutation service over a read service (for mutationOutcome's look at a key).
    make_mutations: Callable[[ReadService], MutationService] | None = None
    clock: Callable[[], float] = field(default=time.time)

    def seconds_left(self) -> float:
        return self.expires_at - self.clock()

    async def events(self, business_id: str, types: Collection[EventType]) -> AsyncIterator[Event]:
        """The business's events of these types, from now until the token expires."""
        where = {"subject": self.principal.subject, "business_id": business_id}
        try:
            with self.hub.subscribed(
                self.principal.subject, business_id, self.transport
            ) as subscriber:
                logger.info("subscription opened", extra={**where, "transport": self.transport})
                ended = "closed"
                try:
                    while True:
                        event = await self._next(subscriber)
                        if event.type in types:
                            yield event
                except GraphQLError as exc:
                    ended = str((exc.extensions or {}).get("code", "closed")).lower()
                    raise
                finally:
                    level = logging.WARNING if ended == "slow_consumer" else logging.INFO
                    logger.log(level, "subscription ended", extra={**where, "reason": ended})
        except SubscriptionLimitError as exc:
            # Only opening raises it: nothing was subscribed.
            logger.info("subscription refused", extra={**where, "reason": "limit"})
            raise TooManySubscriptionsError(exc.limit) from None

    async def _next(self, subscriber: Subscriber) -> Event:
        left = self.seconds_left()
        if left <= 0:
            raise TokenExpiredError
        try:
            async with asyncio.timeout(left):
                return await subscriber.next()
        except TimeoutError:
            raise TokenExpiredError from None
        except SlowConsumerError:
            raise SlowSubscriberError from None

    async def following(self, updates: AsyncIterator[T]) -> AsyncIterator[T]:
        """`updates` (which reads through the context on each step) as one of the caller's
        open subscriptions, until it ends or the token expires."""
        try:
            with self.hub.holding(self.principal.subject, self.transport):
                try:
                    while True:
                        yield await self._step(updates)
                except StopAsyncIteration:
                    return
                finally:
                    close = getattr(updates, "aclose", None)
                    if close is not None:
                        await close()
        except SubscriptionLimitError as exc:
            raise TooManySubscriptionsError(exc.limit) from None

    async def _step(self, updates: AsyncIterator[T]) -> T:
        left = self.seconds_left()
        if left <= 0:
            raise TokenExpiredError
        try:
            # Around each step only, never across a yield: a timeout must not fire while
            # the caller's fields are being resolved.
            async with asyncio.timeout(left):
                return await anext(updates)
        except TimeoutError:
            raise TokenExpiredError from None

    def mutating(self) -> MutationService:
        """A mutation service over a fresh read service (made the current one)."""
        if self.make_mutations is None:
            raise RuntimeError("this session reads only")
        return self.make_mutations(self.reading())

    def reading(self) -> ReadService:
        """A fresh read service for one event, made the current one for its fields."""
        reads = self.make_reads()
        _CURRENT_READS.set(reads)
        return reads

    def delivered(self) -> None:
        self.metrics.delivered_one()

    def not_visible(self) -> None:
        self.metrics.dropped_some("not_visible")


class LiveContext:
    """The context of operations on a live transport (WebSocket, SSE). On a WebSocket
    the session exists once connection_init authenticated it."""

    __slots__ = ("connect", "connection_params", "request", "request_id", "session")

    def __init__(
        self,
        *,
        request: Any,
        request_id: str,
        session: LiveSession | None = None,
        connect: Callable[[LiveContext], Awaitable[None]] | None = None,
    ) -> None:
        self.request = request
        self.request_id = request_id
        self.session = session
        self.connect = connect
        self.connection_params: dict[str, object] = {}

    @property
    def live(self) -> LiveSession:
        if self.session is None:
            raise RuntimeError("the live connection is not authenticated")
        return self.session

    @property
    def principal(self) -> Principal:
        return self.live.principal

    @property
    def mutations(self) -> MutationService:
        # Asked once per look at a key (app/schema/resolvers/outcome.py): each look
        # reads afresh, and what it shows resolves through that look's reads.
        return self.live.mutating()

    @property
    def reads(self) -> ReadService:
        reads = _CURRENT_READS.get()
        if reads is None:
            # Set by the subscription resolver before each event it yields.
            raise RuntimeError("no event is being delivered")
        return reads
