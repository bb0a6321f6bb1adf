"""Real RabbitMQ for the event tests: a queue bound to the events exchange on the shared
broker, and a private broker node (its own port, name and data directory) that a test may
stop and start without disturbing anyone else's connections."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from app.events.envelope import EXCHANGE, Event, from_json

# The Debian package's scripts under /usr/sbin switch to the rabbitmq user; these run the
# node as whoever runs the tests, in a directory they own.
_BIN = Path("/usr/lib/rabbitmq/bin")


def rabbitmq_tool(name: str) -> str | None:
    local = _BIN / name
    return str(local) if local.exists() else shutil.which(name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrivateNode:
    """One RabbitMQ node of this test run. Measured on the 2-core CI machine: start
    about 9 s, stop_app 1.5 s, start_app 2.6 s."""

    base: Path
    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    name: str = field(default_factory=lambda: f"gwtest{uuid.uuid4().hex[:8]}@localhost")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        (self.base / "plugins").write_text("[].\n")
        # guest may connect from loopback only by default: that is what we use.
        (self.base / "rabbitmq.conf").write_text("log.console = false\n")
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
        }

    def _ctl(self, *args: str, timeout: float = 60) -> None:
        ctl = rabbitmq_tool("rabbitmqctl")
        assert ctl is not None
        subprocess.run(  # noqa: S603 - our own arguments
            [ctl, "-n", self.name, *args],
            env=self._env(),
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def start(self) -> None:
        server = rabbitmq_tool("rabbitmq-server")
        assert server is not None
        subprocess.run(  # noqa: S603 - our own arguments
            [server, "-detached"], env=self._env(), check=True, capture_output=True, timeout=60
        )
        self._ctl("wait", str(self.base / "pid"), "--timeout", "60", timeout=90)

    def stop_app(self) -> None:
        """The broker stops: every connection is closed, the port refuses."""
        self._ctl("stop_app")

    def start_app(self) -> None:
        self._ctl("start_app")

    def _pid(self) -> int:
        return int((self.base / "pid").read_text().strip())

    def freeze(self) -> None:
        """The broker stops answering (confirms included) but keeps its connections."""
        os.kill(self._pid(), signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self._pid(), signal.SIGCONT)

    def stop(self) -> None:
        """Stops the node and removes its data directory."""
        try:
            self.thaw()
            self._ctl("stop", str(self.base / "pid"))
        except (OSError, subprocess.SubprocessError, ValueError):
            with contextlib.suppress(OSError, ValueError):
                os.kill(self._pid(), signal.SIGKILL)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def private_node() -> PrivateNode:
    base = Path(tempfile.mkdtemp(prefix="gw-rabbit-"))
    return PrivateNode(base)


class Listener:
    """A durable queue of this test bound to the events exchange (`#`): what consumers
    would receive, read back with every message's AMQP properties."""

    def __init__(self, url: str, binding: str = "#") -> None:
        self.url = url
        self.binding = binding
        self.queue_name = f"test.events.{uuid.uuid4().hex}"

    async def bind(self) -> None:
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(self.queue_name, durable=True)
            await queue.bind(exchange, self.binding)

    async def drain(
        self, *, at_least: int, within: float = 20.0
    ) -> list[tuple[Event, AbstractIncomingMessage]]:
        """Every message in the queue once at least `at_least` arrived (and a short quiet
        spell passed, to catch extra duplicates), acknowledged."""
        received: list[tuple[Event, AbstractIncomingMessage]] = []
        ends = time.monotonic() + within
        quiet_since: float | None = None
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.get_queue(self.queue_name)
            while time.monotonic() < ends:
                message = await queue.get(fail=False)
                if message is None:
                    if len(received) >= at_least:
                        quiet_since = quiet_since or time.monotonic()
                        if time.monotonic() - quiet_since > 0.5:
                            break
                    await asyncio.sleep(0.05)
                    continue
                quiet_since = None
                await message.ack()
                received.append((from_json(message.body), message))
        return received

    async def delete(self) -> None:
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(self.queue_name)
