"""The serving guard (app/serve/guard.py) against real clients on loopback.

A real uvicorn server runs the guard with short limits (QuickGuard: head 1 s, body idle
1 s, body 2 s in all); raw sockets send exactly the bytes, at the pace, of a slowloris,
a slow POST, an oversized head and a normal client. Plain uvicorn is run against the same
clients where that shows what the guard adds.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.serve.guard import MAX_HEAD_BYTES
from tests.serving.server import QuickGuard, RawClient, request, serving

TIMEOUT_ERROR = {
    "errors": [
        {
            "message": "The request was not received in time.",
            "extensions": {"code": "REQUEST_TIMEOUT"},
        }
    ]
}
TOO_LARGE_ERROR = {
    "errors": [
        {
            "message": f"The request's head is larger than {MAX_HEAD_BYTES} bytes.",
            "extensions": {"code": "HEADERS_TOO_LARGE"},
        }
    ]
}
# What a cut may take beyond its limit on a loaded 2-core machine.
SLACK = 0.8


async def test_a_head_sent_a_byte_at_a_time_is_cut_off_at_the_head_timeout() -> None:
    async with serving(QuickGuard) as served:
        # given a client sending its head a byte every 0.2 s (it would need 8 s)
        client = await RawClient.connect(served.port)
        head, _ = request("/")
        trickling = asyncio.create_task(client.trickle(head, every=0.2))

        # when the server is given time
        answer = await client.answer(within=5)
        await trickling
        await client.close()

    # then it is answered 408 and closed once the head timeout passed, the app never ran
    assert answer.closed
    assert answer.status == 408
    assert answer.json_body() == TIMEOUT_ERROR
    assert QuickGuard.head_timeout <= answer.seconds < QuickGuard.head_timeout + SLACK
    assert served.app.paths == []


async def test_plain_uvicorn_keeps_a_trickling_head_open() -> None:
    # The reason for the guard: uvicorn alone has no timer while a head arrives.
    async with serving(HttpToolsProtocol) as served:
        client = await RawClient.connect(served.port)
        head, _ = request("/")
        trickling = asyncio.create_task(client.trickle(head[:12], every=0.2))
        answer = await client.answer(within=2.5 * QuickGuard.head_timeout)
        await trickling
        await client.close()
    assert not answer.closed
    assert answer.data == b""


async def test_a_connection_that_sends_nothing_is_closed_silently() -> None:
    async with serving(QuickGuard) as served:
        # given a connection that never sends a byte
        client = await RawClient.connect(served.port)

        # when the head timeout passes
        answer = await client.answer(within=5)
        await client.close()

    # then it is closed with nothing written: there was no request to answer
    assert answer.closed
    assert answer.data == b""
    assert QuickGuard.head_timeout <= answer.seconds < QuickGuard.head_timeout + SLACK


async def test_a_body_that_stalls_is_cut_off_and_the_app_sees_a_disconnect() -> None:
    async with serving(QuickGuard) as served:
        # given a client that sends its head and half its body, then nothing
        client = await RawClient.connect(served.port)
        head, body = request("/upload", b"x" * 100)
        await client.send(head + body[:50])
        stalled_at = time.monotonic()

        # when the server is given time
        answer = await client.answer(within=5)
        await client.close()

    # then it is answered 408 after the body idle timeout; the app waiting for the body
    # was told the client left, and answered nothing of its own
    assert answer.status == 408
    assert answer.json_body() == TIMEOUT_ERROR
    assert answer.closed
    stalled_for = time.monotonic() - stalled_at
    assert QuickGuard.body_idle_timeout <= stalled_for < QuickGuard.body_idle_timeout + SLACK
    assert answer.data.count(b"HTTP/1.1") == 1
    assert served.app.paths == ["/upload"]
    assert served.app.disconnected == ["/upload"]


async def test_a_body_trickled_faster_than_the_idle_timeout_is_cut_off_at_the_body_timeout() -> (
    None
):
    async with serving(QuickGuard) as served:
        # given a client sending its body a byte every 0.25 s: never idle for 1 s
        client = await RawClient.connect(served.port)
        head, body = request("/upload", b"x" * 100)
        await client.send(head)
        started = time.monotonic()
        trickling = asyncio.create_task(client.trickle(body, every=0.25))

        # when the server is given time
        answer = await client.answer(within=6)
        await trickling
        await client.close()

    # then the body's total time limit cuts it
    assert answer.status == 408
    elapsed = time.monotonic() - started
    assert QuickGuard.body_timeout <= elapsed < QuickGuard.body_timeout + SLACK + 0.25
    assert served.app.disconnected == ["/upload"]


@pytest.mark.parametrize("reads", [1, 9], ids=["in one read", "in many reads"])
async def test_an_oversized_head_is_refused_431_before_the_app_runs(reads: int) -> None:
    async with serving(QuickGuard) as served:
        # given a head one byte over the limit, sent at once or in pieces
        client = await RawClient.connect(served.port)
        head, _ = request("/", X_Padding="")
        padded = head[:-4] + b"a" * (MAX_HEAD_BYTES - len(head) + 1) + b"\r\n\r\n"
        piece = len(padded) // reads + 1
        for start in range(0, len(padded), piece):
            await client.send(padded[start : start + piece])
            await asyncio.sleep(0.02)

        # when the server answers
        answer = await client.answer(within=5)
        await client.close()

    # then 431 with a code, the connection closed, the app never reached
    assert answer.status == 431
    assert answer.json_body() == TOO_LARGE_ERROR
    assert answer.closed
    assert served.app.paths == []


async def test_a_head_of_exactly_the_limit_is_served() -> None:
    async with serving(QuickGuard) as served:
        client = await RawClient.connect(served.port)
        head, _ = request("/", X_Padding="")
        padded = head[:-4] + b"a" * (MAX_HEAD_BYTES - len(head)) + b"\r\n\r\n"
        assert len(padded) == MAX_HEAD_BYTES
        await client.send(padded)
        answer = await client.response()
        await client.close()
    assert answer.status == 200
    assert served.app.paths == ["/"]


async def test_a_head_that_never_ends_is_refused_once_over_the_limit() -> None:
    # Memory: the head is refused as it grows, not after it is whole.
    async with serving(QuickGuard) as served:
        # given a header that goes on and on, 4 KiB at a time
        client = await RawClient.connect(served.port)
        await client.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        sent = 0
        answer = await client.answer(within=0.02)
        while not answer.data and sent < 4 * MAX_HEAD_BYTES:
            await client.send(b"a" * 4096)
            sent += 4096
            # (each piece read before the next: a close with unread data would reset)
            answer = await client.answer(within=0.02)
        await client.close()

    # then it is refused as soon as it passes the limit, before the app runs
    assert answer.status == 431
    assert sent + len(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ") > MAX_HEAD_BYTES
    assert sent <= MAX_HEAD_BYTES + 4096  # the limit and one read at most
    assert served.app.paths == []


async def test_plain_uvicorn_serves_an_oversized_head() -> None:
    # The reason for the guard: httptools under uvicorn has no head limit at all.
    async with serving(HttpToolsProtocol) as served:
        client = await RawClient.connect(served.port)
        head, _ = request("/", X_Padding="a" * (8 * MAX_HEAD_BYTES))
        await client.send(head)
        answer = await client.response()
        await client.close()
    assert answer.status == 200


async def test_a_normal_client_is_served_on_a_kept_alive_connection() -> None:
    async with serving(QuickGuard) as served:
        # given a client sending two requests on one connection, the second's body in
        # pieces with pauses shorter than the idle timeout, and idle between them
        client = await RawClient.connect(served.port)
        head, body = request("/first", b'{"query":"{ viewer { id } }"}')
        await client.send(head + body)
        first = await client.response()
        await asyncio.sleep(0.6)
        head, body = request("/second", b"y" * 30)
        await client.send(head)
        for piece in (body[:10], body[10:20], body[20:]):
            await asyncio.sleep(0.4)
            await client.send(piece)
        second = await client.response()
        await client.close()

    # then both are answered in full, 1.8 s after the connection opened
    assert (first.status, second.status) == (200, 200)
    assert first.json_body() == {"path": "/first", "bodyBytes": 29}
    assert second.json_body() == {"path": "/second", "bodyBytes": 30}


async def test_a_pipelined_request_waiting_for_a_slow_answer_is_not_cut_off() -> None:
    async with serving(QuickGuard) as served:
        # given two requests sent at once, the first answered after 1.5 s (longer than
        # the head and body timeouts): the second waits on the server, not the client
        client = await RawClient.connect(served.port)
        first_head, _ = request("/slow")
        second_head, second_body = request("/after", b"z" * 200_000)
        await client.send(first_head + second_head + second_body)

        # when both are answered
        first = await client.response(within=10)
        second = await client.response(within=10)
        await client.close()

    # then the second is served whole
    assert (first.status, second.status) == (200, 200)
    assert second.json_body() == {"path": "/after", "bodyBytes": 200_000}


async def test_many_slow_clients_do_not_hold_up_a_normal_one() -> None:
    async with serving(QuickGuard) as served:
        # given 200 connections trickling heads and 50 stalled mid-body
        slow = [await RawClient.connect(served.port) for _ in range(250)]
        head, body = request("/stalled", b"s" * 100)
        trickles = [asyncio.create_task(c.trickle(request("/")[0], every=0.1)) for c in slow[:200]]
        for client in slow[200:]:
            await client.send(head + body[:10])

        # when a normal client asks, several times, while they hang on
        timings = []
        for _ in range(10):
            normal = await RawClient.connect(served.port)
            started = time.monotonic()
            await normal.send(b"".join(request("/normal", b"{}")))
            answer = await normal.response()
            timings.append(time.monotonic() - started)
            assert answer.status == 200
            await normal.close()
            await asyncio.sleep(0.05)
        answers = await asyncio.gather(*(c.answer(within=5) for c in slow))
        await asyncio.gather(*trickles)
        for client in slow:
            await client.close()

    # then each is answered promptly, and every slow client was cut off
    assert max(timings) < 0.25, timings
    assert [a.status for a in answers] == [408] * 250


async def test_blank_lines_after_an_answer_do_not_hold_the_connection_open() -> None:
    async with serving(QuickGuard) as served:
        # given a kept-alive connection whose request was answered
        client = await RawClient.connect(served.port)
        head, body = request("/first", b"x")
        await client.send(head + body)
        first = await client.response()
        answered = time.monotonic()

        # when the client sends blank lines (which the parser skips) more often than the
        # head timeout
        trickle = asyncio.ensure_future(client.trickle(b"\r\n" * 50, every=0.2))
        closing = await client.answer(within=5)
        trickle.cancel()
        await client.close()

    # then the connection is closed silently, the head timeout after the answer
    assert first.status == 200
    assert closing.closed
    assert closing.data == b""
    assert time.monotonic() - answered < QuickGuard.head_timeout + 3 * SLACK


async def test_chunked_trailers_are_dropped_and_bounded_like_a_head() -> None:
    async with serving(QuickGuard) as served:
        # given chunked requests, one with a small trailer, one with trailers over the
        # head's size limit
        def chunked(path: str, trailer: bytes) -> bytes:
            return (
                (
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nabc\r\n0\r\n"
                ).encode()
                + trailer
                + b"\r\n"
            )

        small = await RawClient.connect(served.port)
        await small.send(chunked("/small", b"X-Checksum: 1\r\n"))
        served_small = await small.response()
        await small.close()

        large = await RawClient.connect(served.port)
        lines = b"".join(b"X-T%d: %s\r\n" % (n, b"v" * 1000) for n in range(MAX_HEAD_BYTES // 900))
        await large.send(chunked("/large", lines))
        refused = await large.answer(within=5)
        await large.close()

    # then the small one is served (its trailer never reaching the app's headers) and
    # the large one is refused 431 and closed
    assert served_small.status == 200
    assert served_small.json_body() == {"path": "/small", "bodyBytes": 3}
    assert refused.closed
    assert refused.data.startswith(b"HTTP/1.1 431 ")
