"""What the client boundary reports about its calls, to whoever watches (metrics, traces,
the request log), without knowing who that is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class AttemptWatch(Protocol):
    """One HTTP exchange with a service. `traceparent` is what the request carries, so
    the service's own spans join the gateway's trace under this attempt."""

    @property
    def traceparent(self) -> str | None: ...

    def finish(self, outcome: str, status: int | None) -> None: ...


class DownstreamObserver(Protocol):
    def start_attempt(
        self, service: str, method: str, route: str, attempt: int, traceparent: str | None
    ) -> AttemptWatch: ...

    def retry_scheduled(self, service: str, reason: str, wait_seconds: float) -> None: ...


@dataclass(slots=True)
class _QuietAttempt:
    traceparent: str | None

    def finish(self, outcome: str, status: int | None) -> None:
        return


class QuietObserver:
    """Watches nothing: for tools and tests that need a client but no telemetry."""

    def start_attempt(
        self, service: str, method: str, route: str, attempt: int, traceparent: str | None
    ) -> AttemptWatch:
        return _QuietAttempt(traceparent)

    def retry_scheduled(self, service: str, reason: str, wait_seconds: float) -> None:
        return


@dataclass(slots=True)
class CallTally:
    """Downstream attempts of one GraphQL request, for its log line."""

    attempts: int = 0
    retries: int = 0
    failures: int = 0
    # GETs answered by another request's identical exchange (app/downstream/coalesce.py).
    joined: int = 0
