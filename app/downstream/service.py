"""One downstream service over HTTP: service auth, tracing headers, error translation
and response validation, in one place."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from pydantic import BaseModel

from app.core.deadline import Deadline
from app.downstream.breaker import CircuitBreaker
from app.downstream.checked import ListAnswer, parse_list, parse_one
from app.downstream.coalesce import SingleFlight
from app.downstream.direct import BodyTooLargeError, DirectReads, Reply, read_capped
from app.downstream.errors import (
    DownstreamError,
    DownstreamInvalidResponseError,
    DownstreamRateLimitedError,
    DownstreamRejectedError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
)
from app.downstream.models import ContractModel
from app.downstream.observe import CallTally, DownstreamObserver, QuietObserver
from app.downstream.retry import RetryPolicy, with_retries
from app.downstream.transport import ServiceTransport

ModelT = TypeVar("ModelT", bound=BaseModel)
ItemT = TypeVar("ItemT", bound=ContractModel)

# Bodies larger than this are refused rather than parsed: a lying service must not be
# able to make the gateway buffer and decode megabytes.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


# Per service. httpx hands these to its own transport only; ServiceTransport gets them
# explicitly, and bench/gateway_app.py's httpcore variant too.
SERVICE_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=50)

# A single call never waits longer than this, even with budget left: a slow service
# should not take the whole request budget from the calls after it.
DEFAULT_CALL_CAP_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CallMeta:
    """What every downstream call of one GraphQL request carries."""

    request_id: str
    traceparent: str | None = None
    actor_id: str | None = None
    deadline: Deadline | None = None
    call_cap_seconds: float = DEFAULT_CALL_CAP_SECONDS
    tally: CallTally | None = None

    def headers(self) -> dict[str, str]:
        headers = {"X-Request-Id": self.request_id}
        if self.traceparent:
            headers["traceparent"] = self.traceparent
        return headers


class ServiceHttpClient(httpx.AsyncClient):
    """httpx's client, with the direct path for reads when it runs over the service
    transport (app/downstream/direct.py)."""

    direct: DirectReads | None = None


def build_http_client(
    base_url: str,
    token: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout_seconds: float = 5,
    direct_reads: bool = True,
) -> httpx.AsyncClient:
    """The one pooled client for a service, owned by the app's lifespan. Over aiohttp
    unless tests hand in a transport (app/downstream/transport.py); its GETs then skip
    httpx's objects unless `direct_reads` is off (a lever the benchmark prices)."""
    timeout = httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 2))
    service_transport = None
    if transport is None:
        transport = service_transport = ServiceTransport(SERVICE_LIMITS, timeout.connect)
    client = ServiceHttpClient(
        base_url=base_url,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            # No compression: a small compressed body must not expand past the size cap
            # in one decoding step.
            "Accept-Encoding": "identity",
        },
        timeout=timeout,
        transport=transport,
        follow_redirects=False,
        trust_env=False,
    )
    if service_transport is not None and direct_reads:
        client.direct = DirectReads(client, service_transport)
    return client


@dataclass(frozen=True, slots=True)
class Channel:
    """Everything one downstream service's calls share for the app's lifetime: the
    pooled client, its circuit breaker, the retry policy and the observer, and how its
    bodies are validated: in one pass by pydantic, or (`one_pass_json=False`, a lever the
    benchmark prices) parsed by `json.loads` first, as before; both refuse the same bodies
    with the same error."""

    name: str
    http: httpx.AsyncClient
    breaker: CircuitBreaker
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    observer: DownstreamObserver = field(default_factory=QuietObserver)
    one_pass_json: bool = field(default=True, kw_only=True)
    # The first attempt made outside tenacity's machinery, which is entered only after a
    # transient failure (app/downstream/retry.py); a lever the benchmark prices.
    lazy_retries: bool = field(default=True, kw_only=True)
    # Identical GETs in flight at once share one exchange (app/downstream/coalesce.py);
    # None: each request makes its own.
    flights: SingleFlight[Reply] | None = field(default=None, kw_only=True)


class ServiceClient:
    def __init__(self, channel: Channel, meta: CallMeta, *, share_reads: bool = False) -> None:
        """`share_reads`: this client's GETs may share an identical one in flight for
        another request (the channel's single flight). Only a query's reads opt in: a
        mutation's reads must see the service as it is once its writes (or its lock) are
        done, not as a read that started before them saw it."""
        self.name = channel.name
        self._channel = channel
        self._http = channel.http
        self._meta = meta
        self._one_pass_json = channel.one_pass_json
        self._direct = channel.http.direct if isinstance(channel.http, ServiceHttpClient) else None
        self._flights = channel.flights if share_reads else None

    async def get(self, path: str, params: Mapping[str, str], model: type[ModelT]) -> ModelT:
        answer = await self._read(path, params)
        return self._parse(answer, model)

    async def get_list(
        self, path: str, params: Mapping[str, str], model: type[ItemT]
    ) -> ListAnswer[ItemT]:
        """A list answer: refused whole only if it is not JSON or its envelope breaks the
        contract; an object in it that breaks the contract is handed back as broken."""
        answer = await self._read(path, params)
        return parse_list(
            self.name, route_of(path), answer.body, model, one_pass=self._one_pass_json
        )

    async def _read(self, path: str, params: Mapping[str, str]) -> Reply:
        flights = self._flights
        if flights is None:
            return await self._send("GET", path, params=params)
        key = (path, tuple(params.items()))
        answer, joined = await flights.run(key, lambda: self._send("GET", path, params=params))
        if joined and self._meta.tally is not None:
            self._meta.tally.joined += 1
        return answer

    async def post(
        self,
        path: str,
        body: Mapping[str, object] | None,
        model: type[ModelT],
        *,
        idempotency_key: str,
    ) -> tuple[ModelT, bool]:
        """A write, always with a derived Idempotency-Key and the acting user: the parsed
        answer, and whether the service replayed an earlier identical request. The key
        is what makes resending it after a lost answer safe."""
        if not self._meta.actor_id:
            raise ValueError("a downstream write needs the acting user (X-Actor-Id)")
        if not idempotency_key:
            raise ValueError("a downstream write needs its Idempotency-Key")
        headers = {"Idempotency-Key": idempotency_key, "X-Actor-Id": self._meta.actor_id}
        answer = await self._send("POST", path, json_body=body, extra_headers=headers)
        replayed = answer.headers.get("Idempotent-Replayed", "").lower() == "true"
        return self._parse(answer, model), replayed

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, object] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Reply:
        route = route_of(path)
        attempts = 0

        async def attempt() -> Reply:
            nonlocal attempts
            attempts += 1
            return await self._attempt(
                method, path, route, attempts, params, json_body, extra_headers
            )

        def on_retry(error: DownstreamError, wait_seconds: float) -> None:
            if self._meta.tally is not None:
                self._meta.tally.retries += 1
            self._channel.observer.retry_scheduled(self.name, type(error).__name__, wait_seconds)

        return await with_retries(
            self._channel.policy,
            self._meta.deadline,
            attempt,
            on_retry,
            lazy=self._channel.lazy_retries,
        )

    async def _attempt(
        self,
        method: str,
        path: str,
        route: str,
        number: int,
        params: Mapping[str, str] | None,
        json_body: Mapping[str, object] | None,
        extra_headers: Mapping[str, str] | None,
    ) -> Reply:
        timeout = self._timeout()
        if timeout <= 0:
            raise DownstreamTimeoutError(self.name, f"{method} not sent: no time left")
        breaker = self._channel.breaker
        trial = breaker.acquire()
        watch = self._channel.observer.start_attempt(
            self.name, method, route, number, self._meta.traceparent
        )
        headers = self._meta.headers()
        if watch.traceparent:
            headers["traceparent"] = watch.traceparent
        target: httpx.Request | tuple[DirectReads, str] | None = None
        if self._direct is not None and method == "GET" and not extra_headers:
            url = self._direct.url_for(path, params)
            target = None if url is None else (self._direct, url)
        if target is None:
            target = self._http.build_request(
                method,
                path,
                params=params,
                json=json_body,
                headers={**headers, **(extra_headers or {})},
            )
        status: int | None = None
        error: DownstreamError | None = None
        finished = False
        try:
            answer = await self._exchange(target, headers, method, timeout)
            status = answer.status
            if status >= 400:
                raise self._error_for(answer)
            if status >= 300:
                # Never followed: the service token would travel to wherever it points.
                raise DownstreamInvalidResponseError(
                    self.name, f"answered {status}: redirects are not followed"
                )
            finished = True
            return answer
        except DownstreamError as exc:
            error, finished = exc, True
            raise
        finally:
            if self._meta.tally is not None:
                self._meta.tally.attempts += 1
                self._meta.tally.failures += error is not None
            if not finished:
                # Cancelled (the request gave up): says nothing about the service.
                breaker.release(trial=trial)
                watch.finish("cancelled", status)
            elif _healthy(error, status):
                breaker.record_success(trial=trial)
                watch.finish(_outcome(error), status)
            else:
                breaker.record_failure(trial=trial)
                watch.finish(_outcome(error), status)

    async def _exchange(
        self,
        target: httpx.Request | tuple[DirectReads, str],
        headers: Mapping[str, str],
        method: str,
        seconds: float,
    ) -> Reply:
        """The request sent and its answer read, through httpx (an httpx Request) or the
        direct path (a URL for it); either path's failures become the same errors here."""
        try:
            # asyncio's timeout bounds the whole exchange whatever the transport does,
            # including a server that trickles its body byte by byte.
            async with asyncio.timeout(seconds):
                if isinstance(target, tuple):
                    direct, url = target
                    return await direct.get(url, headers, MAX_RESPONSE_BYTES)
                response = await self._http.send(target, stream=True)
                try:
                    body = await read_capped(
                        response.headers.get("Content-Length", ""),
                        response.aiter_bytes(),
                        MAX_RESPONSE_BYTES,
                    )
                finally:
                    await response.aclose()
                return Reply(response.status_code, response.headers, body)
        except BodyTooLargeError as exc:
            raise DownstreamInvalidResponseError(self.name, "response body too large") from exc
        except (TimeoutError, httpx.TimeoutException) as exc:
            # A connect timeout never reached the service: as safe to resend as a refusal.
            raise DownstreamTimeoutError(
                self.name,
                f"{method} timed out",
                transient=isinstance(exc, httpx.ConnectTimeout),
            ) from exc
        except _CONNECTION_FAILURES as exc:
            raise DownstreamUnavailableError(
                self.name, f"{method} failed: {type(exc).__name__}", transient=True
            ) from exc
        except httpx.HTTPError as exc:
            raise DownstreamUnavailableError(
                self.name, f"{method} failed: {type(exc).__name__}"
            ) from exc

    def _timeout(self) -> float:
        cap = self._meta.call_cap_seconds
        return self._meta.deadline.timeout_for(cap) if self._meta.deadline else cap

    def _error_for(self, answer: Reply) -> DownstreamError:
        status = answer.status
        if status == 429:
            return DownstreamRateLimitedError(self.name, _retry_after(answer.headers))
        if status == 504:
            return DownstreamTimeoutError(self.name, "answered 504", transient=True)
        if status >= 500:
            # 500 is a fault in the service, not a passing state: resending repeats it.
            return DownstreamUnavailableError(
                self.name,
                f"answered {status}",
                retry_after_seconds=_retry_after(answer.headers),
                transient=status in _TRANSIENT_STATUSES,
            )
        code, param = _error_code(answer.body)
        if status == 401:
            # The gateway's own service token was refused: an operator problem, not the
            # caller's. Never shown as a client error.
            return DownstreamUnavailableError(self.name, "refused the service token (401)")
        return DownstreamRejectedError(self.name, status, code, param)

    def _parse(self, answer: Reply, model: type[ModelT]) -> ModelT:
        return parse_one(self.name, answer.body, model, one_pass=self._one_pass_json)


# Failures where the service never saw the request, or dropped the connection before
# answering: the request may be resent (reads freely, writes under their key).
_CONNECTION_FAILURES = (httpx.NetworkError, httpx.RemoteProtocolError)
_TRANSIENT_STATUSES = frozenset({502, 503})
_ID_SEGMENT = re.compile(r"[a-z]+_[A-Za-z0-9]+")


def route_of(path: str) -> str:
    """The path with ids replaced, for metrics and span names of bounded cardinality."""
    return "/".join("{id}" if _ID_SEGMENT.fullmatch(part) else part for part in path.split("/"))


def _healthy(error: DownstreamError | None, status: int | None) -> bool:
    """What the breaker learns: an answer below 500 shows a working service (4xx and
    contract-breaking bodies included); timeouts, lost connections and 5xx do not."""
    if isinstance(error, DownstreamTimeoutError):
        return False
    return status is not None and status < 500


def _outcome(error: DownstreamError | None) -> str:
    if error is None:
        return "ok"
    if isinstance(error, DownstreamTimeoutError):
        return "timeout"
    if isinstance(error, DownstreamRateLimitedError):
        return "rate_limited"
    if isinstance(error, DownstreamRejectedError):
        return "rejected"
    if isinstance(error, DownstreamInvalidResponseError):
        return "invalid_response"
    return "unavailable"


def _retry_after(headers: Mapping[str, str]) -> int | None:
    value = headers.get("Retry-After", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 6 else None


def _error_code(body: bytes) -> tuple[str, str | None]:
    try:
        error = json.loads(body)["error"]
        code, param = error["code"], error.get("param")
    except (ValueError, KeyError, TypeError):
        return "unknown", None
    if not isinstance(code, str):
        return "unknown", None
    return code[:64], param[:64] if isinstance(param, str) else None
