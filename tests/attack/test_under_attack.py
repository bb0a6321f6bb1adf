"""Load under attack: while attackers send every class of the hardening issue at once, a
normal user's `{ viewer { id } }` keeps its pace, and every attack is refused.

The gateway runs as the image runs it (tests/attack/stack.py: the Dockerfile's command,
uvloop and the serving guard, production settings) against real sandbox processes, all
on loopback. The normal user, in this process, sends `viewer` on one kept-alive
connection at USER_RATE a second: its quiet p50 over 50 requests, then its p50 while the
attackers (tests/attack/attackers.py, a process of their own so that their work never
delays this event loop) send each class from PER_CLASS connections at RATE a second each,
for ATTACK_SECONDS. Documents carry a fresh comment each time, so no cache answers for
the parser. The attack lasts past the serving guard's 10 s head and body timeouts, so the
slow clients are cut off by the shipped limits, not a test's.

The attackers are paced, not flooding as fast as the gateway answers: one event loop
answers in turn, so a flood of even the cheapest refusals (a 404 takes 0.3 ms) puts the
user behind every request in the queue, which rate limiting in the process cannot
prevent (that needs a limit in front of it). What this test holds is that no class costs
the gateway much per request, as the issue's "a handful of such requests" did.

Measured (2 cores, shared with other work): quiet p50 2.3 to 4.7 ms. With every class
but the two parse-heavy ones (a 2000-token document, 300 duplicated fields), under attack
3.3 and 7.2 ms; with them, 168 to 260 ms: refused at weight 1, each is parsed before the
budget is consulted and again for execution (30 to 110 ms for the 2000 tokens; 13 ms
for the duplicates), and a 429 parses too (6 ms for the introspection pair). Hence the
floor: the gateway, this process, the attackers and the sandboxes share two cores, and
a 3 ms request whose process loses the CPU once for a scheduler slice doubles without any
work of the gateway's; NOISE_FLOOR (10 ms above quiet) is far below the 150 ms and more
that an expensive class causes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import statistics
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth.principal import Role
from sandbox.devkeys import mint_token
from sandbox.seed import GB_BUSINESS_ID
from tests.attack import attackers
from tests.attack.stack import AUDIENCE, ISSUER, Gateway, image_gateway
from tests.mutations.processes import clean_environment

ATTACK_SECONDS = 12.0
PER_CLASS = 2
RATE = 5.0
USER_RATE = 10.0
NOISE_FLOOR = 0.010
QUIET_REQUESTS = 50
VIEWER = attackers.query("{ viewer { id } }")

REFUSED = {"200", "400", "429"}  # 200: a GraphQL error answer, checked to carry errors
ALLOWED = {
    "introspection, aliased 30 times": REFUSED,
    "introspection, twice (within the cost limit)": {"200", "429"},
    "duplicated fields": REFUSED,
    "invalid UTF-8": {"400", "429"},
    "bad tokens from one address": {"401", "429"},
    "malformed JSON": {"400", "429"},
    "deeply nested JSON": {"400", "429"},
    "several operations, no operationName": REFUSED,
    "trailing slash, foreign Host": {"404"},
    "nodes with 30000 ids": REFUSED,
    attackers.SLOW_HEAD: {"408"},
    attackers.SLOW_BODY: {"408"},
}
# Only this class may run: it is within every limit, and its budget pays for it.
MAY_RUN = {"introspection, twice (within the cost limit)"}


async def viewer_latencies(
    gateway: Gateway, token: str, *, count: int = 0, until: float = 0
) -> list[float]:
    """Seconds per `viewer`, one at a time on one connection, USER_RATE a second at most
    (a person's pace, within the budget): `count` of them, or as many as fit before
    `until` (monotonic)."""
    connection = attackers.Connection(gateway.port)
    request = attackers.post(VIEWER, token)
    timings: list[float] = []
    try:
        while len(timings) < count or time.monotonic() < until:
            started = time.perf_counter()
            answer = await asyncio.wait_for(connection.exchange(request), 10)
            elapsed = time.perf_counter() - started
            timings.append(elapsed)
            assert (answer.status, json.loads(answer.body)) == (
                200,
                {"data": {"viewer": {"id": "normal-user"}}},
            )
            await asyncio.sleep(max(1 / USER_RATE - elapsed, 0))
    finally:
        await connection.close()
    return timings


async def test_a_normal_users_viewer_keeps_its_pace_while_every_attack_class_runs(
    tmp_path: Path,
) -> None:
    async with image_gateway(tmp_path) as gateway:
        # given a normal user, and attackers with a valid token of no business per class
        token = gateway.token("normal-user", [(GB_BUSINESS_ID, Role.OWNER)])
        # (a forged token: the user's own claims and key id, another key's signature, so
        # each costs a full signature check)
        other = mint_token(
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            issuer=ISSUER,
            audience=AUDIENCE,
            subject="normal-user",
            memberships=[],
        )
        forged = token.rsplit(".", 1)[0] + "." + other.rsplit(".", 1)[1]
        await viewer_latencies(gateway, token, count=20)  # warm up
        quiet = statistics.median(await viewer_latencies(gateway, token, count=QUIET_REQUESTS))

        # when the attackers run
        plan = attackers.Plan(
            port=gateway.port,
            seconds=ATTACK_SECONDS,
            per_class=PER_CLASS,
            rate=RATE,
            tokens={
                name: gateway.token(f"attacker-{n}", [])
                for n, name in enumerate([*attackers.CLASSES, attackers.SLOW_BODY])
            },
            forged=forged,
        )
        plan_path, result_path, ready = (tmp_path / n for n in ("plan", "result", "ready"))
        plan_path.write_text(json.dumps(dataclasses.asdict(plan)))
        process = await gateway.processes.spawn(
            "attackers",
            ["-m", "tests.attack.attackers", str(plan_path), str(result_path), str(ready)],
            clean_environment(),
        )
        async with asyncio.timeout(15):
            while not ready.exists():
                assert process.running, process.log()
                await asyncio.sleep(0.05)
        attack_ends = time.monotonic() + ATTACK_SECONDS
        during = await viewer_latencies(gateway, token, until=attack_ends - 1)
        await asyncio.wait_for(process.proc.wait(), ATTACK_SECONDS + 15)
        assert process.proc.returncode == 0, process.log()
        result = json.loads(result_path.read_text())

    # then the normal user's p50 stays within three times its quiet p50 (see NOISE_FLOOR)
    under_attack = statistics.median(during)
    report = f"quiet p50 {quiet * 1000:.1f} ms, under attack {under_attack * 1000:.1f} ms"
    report += f" over {len(during)} requests; attackers: {json.dumps(result)}"
    print(report)  # noqa: T201 - the numbers, for the record (pytest -s)
    assert under_attack <= max(3 * quiet, quiet + NOISE_FLOOR), report

    # and every attack was answered, refused with its expected statuses, never a 500
    for name, allowed in ALLOWED.items():
        statuses = result[name]["statuses"]
        assert statuses, f"{name}: no answer at all"
        assert set(statuses) <= allowed, f"{name}: {statuses}"
        if name not in MAY_RUN:
            assert result[name]["admitted"] == 0, f"{name} ran: {result[name]}"
    for name in (attackers.SLOW_HEAD, attackers.SLOW_BODY):
        # cut at the shipped 10 s, give or take a busy event loop
        assert all(10 <= seconds < 13 for seconds in result[name]["cut_after"]), result[name]
