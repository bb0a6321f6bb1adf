"""uvicorn's httptools protocol with a bound on the request head's size and on the time a
client may take to send its request.

Served as `uvicorn app.main:app --http app.serve.guard:GuardedHttpToolsProtocol` (the
Dockerfile's command, `make run`, the tests that start real gateways).

**Why hand-written.** uvicorn 0.55 with httptools 0.9 (what the image serves with) bounds
neither, measured on loopback against a bare ASGI app:

- *Head size*: none at all. llhttp, under httptools, has no header limit, and uvicorn sets
  none: an 8 MiB header was read whole into memory and the app ran and answered 200.
  (`--h11-max-incomplete-event-size` applies to the h11 protocol only.)
- *Time*: the only timer is `timeout_keep_alive` (5 s), armed after a response and
  cancelled by the next byte received. A connection that sends nothing, one that sends a
  header byte a second (slowloris) and one that stops in the middle of its body (slow
  POST) were all still open, holding their socket and, for the body, the app's task, when
  the test stopped them minutes later. The h11 protocol behaves the same. (The app's
  `REQUEST_TIMEOUT_SECONDS` starts once the body has been read.)

A front proxy (nginx's `client_header_timeout`, `client_body_timeout`,
`large_client_header_buffers`) would do this too, but the image is run without one, and a
limit inside the served process holds wherever it is deployed and is tested here
(tests/serving/).

**What it does.** Each connection is in one phase at a time, with one timer:

- *head*: from the connection's start (or the first byte after a response) to the end of
  the request's head, at most `HEAD_TIMEOUT_SECONDS` in all, however the bytes trickle;
- *body*: from the end of the head to the end of the body: at most
  `BODY_IDLE_TIMEOUT_SECONDS` without a byte, and `BODY_TIMEOUT_SECONDS` in all (so a byte
  every few seconds cannot hold it either);
- *waiting*: the request is whole; the app's own deadline and uvicorn's keep-alive apply.

A timer that fires while the server itself stopped reading (a pipelined request waiting
for the one before it, or back-pressure from the app) is started again: that wait is not
the client's. Otherwise the connection is closed, after a 408 when a request had begun and
no answer has started on it (a connection that never sent a byte is closed silently, as a
keep-alive connection is). A head larger than `MAX_HEAD_BYTES` is answered 431 and the
connection closed, before the app sees the request: counted as it arrives while the head
is incomplete (so memory holds at most the limit plus one read), and from the parsed
request line and headers (as a client normally writes them) when it completes. Refusals are JSON
with a code, as the app words its own; each is logged at warning, as uvicorn logs an
invalid request.
"""

from __future__ import annotations

import asyncio
import enum
import json
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

# What `uvicorn --http` is given wherever the gateway is served.
UVICORN_HTTP = "app.serve.guard:GuardedHttpToolsProtocol"

# Twice Node's and uvicorn-h11's 16 KiB: a bearer token carrying many memberships is a
# few KiB; browsers and the apps send about 1 KiB in all.
MAX_HEAD_BYTES = 32 * 1024
# The apps send their head in one packet; ten seconds is a very slow mobile link's
# several round trips. (nginx's default, 60 s, lets one address hold six times as many
# connections for the same rate of opening them.)
HEAD_TIMEOUT_SECONDS = 10.0
BODY_IDLE_TIMEOUT_SECONDS = 10.0
# The largest body admitted (MAX_BODY_BYTES, 1 MiB) needs 35 KB/s to arrive in time; the
# apps' bodies are under 2 KiB.
BODY_TIMEOUT_SECONDS = 30.0

# Around the method and target: two spaces, "HTTP/1.1", CRLF, and the blank line's CRLF;
# each header adds ": " and CRLF to its name and value.
_REQUEST_LINE_OVERHEAD = len(b"  HTTP/1.1\r\n\r\n")
_HEADER_OVERHEAD = len(b": \r\n")


class _Phase(enum.Enum):
    HEAD = "head"
    BODY = "body"
    WAITING = "waiting"


def _refusal_bytes(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        separators=(",", ":"),
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "cache-control: no-store\r\n"
        "x-content-type-options: nosniff\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


_TOO_LARGE = _refusal_bytes(
    431,
    "Request Header Fields Too Large",
    "HEADERS_TOO_LARGE",
    f"The request's head is larger than {MAX_HEAD_BYTES} bytes.",
)
_TIMED_OUT = _refusal_bytes(
    408, "Request Timeout", "REQUEST_TIMEOUT", "The request was not received in time."
)


# How long a refused connection's input is still read (and discarded) before it closes.
LINGER_SECONDS = 1.0


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HttpToolsProtocol with the limits above (class attributes, so that a test
    can serve a subclass with shorter ones)."""

    max_head_bytes: int = MAX_HEAD_BYTES
    head_timeout: float = HEAD_TIMEOUT_SECONDS
    body_idle_timeout: float = BODY_IDLE_TIMEOUT_SECONDS
    body_timeout: float = BODY_TIMEOUT_SECONDS
    too_large_response: bytes = _TOO_LARGE
    timed_out_response: bytes = _TIMED_OUT

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._phase = _Phase.HEAD
        self._phase_started = 0.0
        self._last_body_byte = 0.0
        self._request_begun = False
        self._messages_begun = 0
        self._head_bytes = 0
        self._trailer_bytes = 0
        self._refused = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = 0.0

    # Connection events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        # uvicorn arms no timer before the first request: waiting for it counts as head.
        self._phase_started = self.loop.time()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        in_head = self._phase is _Phase.HEAD and self._request_begun
        begun = self._messages_begun
        super().data_received(data)
        if self._refused or self.transport.is_closing():
            return
        # Still in the same head: all of this read belongs to it. (A head begun inside
        # this read is counted from the next one, and from its parts at its end.)
        if self._phase is _Phase.HEAD and in_head and begun == self._messages_begun:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse_head()
                return
        self._arm()

    def handle_websocket_upgrade(self) -> None:
        # The connection becomes another protocol's: no timer of this one may close it.
        self._disarm()
        self._phase = _Phase.WAITING
        super().handle_websocket_upgrade()

    # Parser callbacks (called while uvicorn feeds the parser)

    def on_message_begin(self) -> None:
        if self._refused:
            return
        super().on_message_begin()
        if self._phase is not _Phase.HEAD:
            self._phase = _Phase.HEAD
            self._phase_started = self.loop.time()
        self._request_begun = True
        self._messages_begun += 1
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        if self._phase is _Phase.BODY:
            # A chunked body's trailer fields: dropped, never added to the request the
            # app is already reading (RFC 9110 6.5.1 allows it), and counted against the
            # head's limit so that they cannot be an unbounded second head.
            self._trailer_bytes += len(name) + len(value) + _HEADER_OVERHEAD
            if self._trailer_bytes > self.max_head_bytes:
                self._answer_and_close(self.too_large_response)
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        if self._parsed_head_size() > self.max_head_bytes:
            self._refuse_head()
            return
        super().on_headers_complete()
        self._trailer_bytes = 0
        self._phase = _Phase.BODY
        self._phase_started = self._last_body_byte = self.loop.time()

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        super().on_body(body)
        self._last_body_byte = self.loop.time()

    def on_message_complete(self) -> None:
        if self._refused:
            return
        super().on_message_complete()
        self._phase = _Phase.WAITING
        self._request_begun = False

    def on_response_complete(self) -> None:
        super().on_response_complete()
        cycle = self.cycle
        if self._phase is _Phase.WAITING and (cycle is None or cycle.response_complete):
            # Nothing outstanding: the next head is awaited from now, and its timer runs
            # whatever arrives (blank lines between requests, which the parser skips and
            # which cancel uvicorn's keep-alive timer, would otherwise hold it forever).
            self._phase = _Phase.HEAD
            self._phase_started = self.loop.time()
            self._arm()

    # The limits

    def _parsed_head_size(self) -> int:
        headers = sum(len(name) + len(value) + _HEADER_OVERHEAD for name, value in self.headers)
        method = self.parser.get_method()
        return _REQUEST_LINE_OVERHEAD + len(method) + len(self.url) + headers

    def _deadline(self) -> float | None:
        if self._phase is _Phase.HEAD:
            return self._phase_started + self.head_timeout
        if self._phase is _Phase.BODY:
            return min(
                self._last_body_byte + self.body_idle_timeout,
                self._phase_started + self.body_timeout,
            )
        return None

    def _arm(self) -> None:
        when = self._deadline()
        if when is None:
            self._disarm()
        elif self._timer is None or when != self._timer_when:
            self._disarm()
            self._timer = self.loop.call_at(when, self._expired)
            self._timer_when = when

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self.transport.is_closing() or self._phase is _Phase.WAITING:
            return
        if self.flow.read_paused:
            # The server stopped reading (a pipelined request waits for the one before
            # it, or the app has not taken the body yet): not the client's delay.
            self._phase_started = self._last_body_byte = self.loop.time()
            self._arm()
            return
        self.logger.warning(
            "Closed a connection whose request %s was not received in time.", self._phase.value
        )
        if self._phase is _Phase.HEAD and not self._request_begun:
            self.transport.close()  # nothing was asked: nothing to answer
            return
        self._answer_and_close(self.timed_out_response)

    def _refuse_head(self) -> None:
        self.logger.warning("Refused a request head larger than %d bytes.", self.max_head_bytes)
        self._answer_and_close(self.too_large_response)

    def _answer_and_close(self, response: bytes) -> None:
        self._refused = True
        self._disarm()
        cycle = self.cycle
        in_this_request = cycle is not None and self._phase is _Phase.BODY
        if in_this_request and not cycle.response_started:
            # The app may be waiting for the body: it sees a disconnect, and its answer,
            # if any, goes nowhere.
            cycle.disconnected = True
            cycle.message_event.set()
            self.transport.write(response)
        elif not in_this_request and (cycle is None or cycle.response_complete):
            # A new request's head: nothing else is being written on this connection.
            self.transport.write(response)
        else:
            # An answer is being written: another would garble it; just close.
            self.transport.close()
            return
        self._linger()

    def _linger(self) -> None:
        """Close after the refusal was read: end our side first and discard what still
        arrives for a moment. Closing a socket with unread input sends a reset, which can
        destroy the refusal before the client reads it (a slow client's next byte is
        usually on its way)."""
        transport = self.transport
        if not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, transport.close)
