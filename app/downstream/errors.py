"""The one error hierarchy for downstream calls. Nothing above app/downstream sees httpx."""

from __future__ import annotations


class DownstreamError(Exception):
    """A downstream call did not give a usable answer. `service` names which one.

    `retryable`: the caller may try the whole operation again later. `transient`: the
    client boundary itself may resend this very request at once (connection failures,
    429, 502, 503, 504), which is safe only for GETs and keyed POSTs."""

    retryable: bool = False
    transient: bool = False

    def __init__(self, service: str, detail: str) -> None:
        # `detail` is for logs only: it never contains a URL, body or token.
        super().__init__(f"{service}: {detail}")
        self.service = service
        self.detail = detail


class DownstreamTimeoutError(DownstreamError):
    retryable = True

    def __init__(self, service: str, detail: str, *, transient: bool = False) -> None:
        super().__init__(service, detail)
        self.transient = transient


class DownstreamUnavailableError(DownstreamError):
    """Connection failed, or a 5xx: the outcome of a write is unknown."""

    retryable = True

    def __init__(
        self,
        service: str,
        detail: str,
        *,
        retry_after_seconds: int | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(service, detail)
        self.retry_after_seconds = retry_after_seconds
        self.transient = transient


class DownstreamCircuitOpenError(DownstreamUnavailableError):
    """Refused without a call: the service's circuit is open. Retry after the wait."""

    def __init__(self, service: str, *, retry_after_seconds: int) -> None:
        super().__init__(service, "circuit open", retry_after_seconds=retry_after_seconds)


class DownstreamRateLimitedError(DownstreamError):
    retryable = True
    transient = True

    def __init__(self, service: str, retry_after_seconds: int | None) -> None:
        super().__init__(service, f"rate limited, retry after {retry_after_seconds}s")
        self.retry_after_seconds = retry_after_seconds


class DownstreamRejectedError(DownstreamError):
    """A definitive 4xx answer with the contract's error code (e.g. invalid_state)."""

    def __init__(self, service: str, status: int, code: str, param: str | None) -> None:
        super().__init__(service, f"rejected with {status} {code}")
        self.status = status
        self.code = code
        self.param = param
        # The first request with this key is still running: same key, after a pause.
        self.retryable = code == "idempotency_key_in_use"


class DownstreamInvalidResponseError(DownstreamError):
    """The body was not JSON, or not what the contract says. Never trusted."""


class DownstreamInvalidObjectError(DownstreamInvalidResponseError):
    """One object of a list answer broke the contract and was left out; the rest of the
    answer stands. `shown_id` is its id where the caller may learn it (the read side's
    ownership rules decide, app/reads/ownership.py), else None."""

    def __init__(self, service: str, kind: str, *, shown_id: str | None = None) -> None:
        super().__init__(service, f"a {kind} breaks the contract; left out")
        self.kind = kind
        self.shown_id = shown_id
