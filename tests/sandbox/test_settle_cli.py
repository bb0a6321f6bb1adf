"""`python -m sandbox settle` against a payments sandbox served over HTTP, as while
`make run` runs."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from sandbox import __main__ as cli
from sandbox.seed import FAILED_PAYMENT_ID, PAYMENTS, PENDING_PAYMENT_ID
from tests.sandbox.test_cli import REPO, free_port

TOKEN = "t-settle"


def serve_payments(*flags: str) -> Iterator[str]:
    """A payments sandbox process on a free loopback port; its URL while it runs."""
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            "-m",
            "sandbox",
            "payments",
            "--port",
            str(port),
            "--token",
            TOKEN,
            *flags,
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"{url}/v1/balances?business_ids=biz_x", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "sandbox did not start"
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.communicate(timeout=10)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    yield from serve_payments()


@pytest.fixture
def payments_url(server_url: str) -> str:
    """The module's server, its seed restored: each test starts from a pending payment."""
    reset = httpx.post(f"{server_url}/_sandbox/reset", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reset.status_code == 200
    return server_url


def status_of(url: str, payment_id: str) -> str:
    response = httpx.get(
        f"{url}/v1/payments/{payment_id}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    status: str = response.json()["status"]
    return status


def settle(url: str, *args: str) -> int:
    return cli.main(["settle", *args, "--url", url, "--token", TOKEN])


def test_settling_succeeded_prints_one_clear_line(
    payments_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # when
    code = settle(payments_url, PENDING_PAYMENT_ID, "succeeded")
    # then
    pending = next(p for p in PAYMENTS if p.id == PENDING_PAYMENT_ID)
    out = capsys.readouterr()
    assert code == 0
    assert out.out == (
        f"{PENDING_PAYMENT_ID} settled: succeeded, GBP {pending.amount / 100:.2f} for "
        f"{pending.invoice_id} of {pending.business_id} moved from pending to available\n"
    )
    assert out.err == ""
    assert status_of(payments_url, PENDING_PAYMENT_ID) == "succeeded"


def test_settling_failed_with_a_code(payments_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = settle(payments_url, PENDING_PAYMENT_ID, "failed", "--failure-code", "card_declined")
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(f"{PENDING_PAYMENT_ID} settled: failed (card_declined), GBP ")
    assert out.endswith(" left the pending balance\n")
    assert status_of(payments_url, PENDING_PAYMENT_ID) == "failed"


def test_a_refusal_is_an_error_line_and_exit_1(
    payments_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = settle(payments_url, FAILED_PAYMENT_ID, "succeeded")
    out = capsys.readouterr()
    assert code == 1
    assert out.out == ""
    assert out.err == (
        f"error: {FAILED_PAYMENT_ID} not settled: 409 invalid_state: "
        "Only a pending payment can be settled, not failed\n"
    )


def test_a_wrong_token_says_so(payments_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["settle", PENDING_PAYMENT_ID, "succeeded", "--url", payments_url])
    err = capsys.readouterr().err
    assert code == 1
    assert "401 unauthenticated" in err
    assert "--token" in err
    assert status_of(payments_url, PENDING_PAYMENT_ID) == "pending"


def test_with_admin_off_settling_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for url in serve_payments("--no-admin"):
        code = settle(url, PENDING_PAYMENT_ID, "succeeded")
        err = capsys.readouterr().err
        assert code == 1
        assert "404 resource_missing" in err
        assert "--no-admin" in err
        assert status_of(url, PENDING_PAYMENT_ID) == "pending"


def test_nothing_listening_says_how_to_start_it(
    unused_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code = settle(f"http://127.0.0.1:{unused_port}", PENDING_PAYMENT_ID, "succeeded")
    err = capsys.readouterr().err
    assert code == 1
    assert "cannot reach the payments sandbox" in err
    assert "make run" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["settle"],
        ["settle", PENDING_PAYMENT_ID],
        ["settle", PENDING_PAYMENT_ID, "pending"],
        ["settle", PENDING_PAYMENT_ID, "succeeded", "--failure-code", "card_declined"],
        ["settle", PENDING_PAYMENT_ID, "failed", "--failure-code", "expired"],
    ],
)
def test_bad_settle_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert "usage: python -m sandbox settle" in capsys.readouterr().err


class NotTheSandbox(http.server.BaseHTTPRequestHandler):
    """Something else on the port, answering as a proxy in front of nothing would."""

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        body = b"<html><body>502 Bad Gateway</body></html>"
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: the test reads the CLI's output only


def test_an_answer_without_an_envelope_is_reported_as_such(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotTheSandbox)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        code = settle(f"http://127.0.0.1:{server.server_port}", PENDING_PAYMENT_ID, "failed")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert code == 1
    assert capsys.readouterr().err == (
        f"error: {PENDING_PAYMENT_ID} not settled: "
        "the payments sandbox answered HTTP 502 without an error envelope\n"
    )
