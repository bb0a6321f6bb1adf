"""The headline of the relay: a gateway process killed (kill -9) after its events were
committed and sent, before the broker confirmed them. A second gateway process on the
same PostgreSQL database publishes them once the dead one's claim lapses: every event
reaches the broker, none is lost, and any duplicate carries the same id and sequence."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.principal import Role
from app.db import migrate
from app.db.engine import create_engine
from app.db.tables import domain_events
from sandbox.devkeys import mint_token
from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.mutation_helpers import CREATE_CUSTOMER, valid_input
from tests.events.broker import Listener, PrivateNode
from tests.mutations.helpers import eventually
from tests.mutations.processes import Processes, start_gateway, start_services, wait_ready

ISSUER = "https://id.events.test/"
AUDIENCE = "fintech-gateway"
INVOICING_TOKEN = "events-invoicing-token"
PAYMENTS_TOKEN = "events-payments-token"


async def create_customer(client: httpx.AsyncClient, url: str, token: str, key: str) -> str:
    response = await client.post(
        f"{url}/graphql",
        json={
            "query": CREATE_CUSTOMER.document({"customer": "id"}),
            "variables": {"input": valid_input(CREATE_CUSTOMER, key)},
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    customer_id: str = response.json()["data"]["createCustomer"]["customer"]["id"]
    return customer_id


async def rows(engine: AsyncEngine) -> list[tuple[str, int, bool]]:
    """(subject, attempts, published) of every event."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(
                domain_events.c.subject, domain_events.c.attempts, domain_events.c.published_at
            ).order_by(domain_events.c.position)
        )
        return [(r.subject, r.attempts, r.published_at is not None) for r in found]


@pytest.mark.postgres
async def test_gateway_killed_before_the_confirm_loses_no_event(
    postgres_url: str, tmp_path: Path, private_rabbitmq: PrivateNode
) -> None:
    # Given a migrated PostgreSQL database, sandbox services, an identity provider, a
    # queue bound on the private broker and a gateway process publishing to it
    engine = create_engine(postgres_url)
    processes = Processes(tmp_path)
    listener = Listener(private_rabbitmq.url)
    await listener.bind()
    try:
        await migrate.upgrade(engine)
        services = await start_services(
            processes,
            tmp_path,
            database_url=postgres_url,
            issuer=ISSUER,
            audience=AUDIENCE,
            invoicing_token=INVOICING_TOKEN,
            payments_token=PAYMENTS_TOKEN,
        )
        settings = {**services.settings, "AMQP_URL": private_rabbitmq.url}
        first, first_url = await start_gateway(processes, "gateway-1", settings)
        await wait_ready(first, f"{first_url}/readyz")
        token = mint_token(
            services.signing_key,
            issuer=ISSUER,
            audience=AUDIENCE,
            subject="user_events_owner",
            memberships=[(GB_BUSINESS_ID, Role.OWNER)],
        )
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            # ... which has published one event already (its connection is open)
            await create_customer(client, first_url, token, "warm-up")

            async def first_published() -> bool:
                return [published for _, _, published in await rows(engine)] == [True]

            await eventually(first_published, within=15, what="the first event's confirm")

            # When the broker stops answering (no confirm comes), five more customers
            # are created and the gateway's relay has sent their events ...
            await asyncio.to_thread(private_rabbitmq.freeze)
            try:
                customers = [
                    await create_customer(client, first_url, token, f"customer-{n}")
                    for n in range(5)
                ]

                async def all_sent() -> bool:
                    return all(attempts >= 1 for _, attempts, _ in (await rows(engine))[1:])

                await eventually(all_sent, within=10, interval=0.02, what="the relay's claim")
                # ... and the gateway is killed before any confirm
                await first.kill_hard()
            finally:
                await asyncio.to_thread(private_rabbitmq.thaw)
            assert [published for _, _, published in await rows(engine)] == [True] + [False] * 5

            # When a second gateway process starts on the same database
            killed_at = time.monotonic()
            second, second_url = await start_gateway(processes, "gateway-2", settings)
            await wait_ready(second, f"{second_url}/readyz")

            async def all_published() -> bool:
                return all(published for _, _, published in await rows(engine))

            await eventually(all_published, within=40, what="the second gateway to publish")
            recovered_in = time.monotonic() - killed_at

        # Then every event reached the queue; a duplicate (the dead relay's message may
        # have arrived) has the same id and sequence
        received = await listener.drain(at_least=6)
        by_id = {event.id: (event.subject, event.sequence) for event, _ in received}
        assert sorted(by_id.values()) == sorted(
            (subject, 1) for subject, _, _ in await rows(engine)
        )
        assert {subject for subject, _ in by_id.values()} >= set(customers)
        assert all((event.subject, event.sequence) == by_id[event.id] for event, _ in received)
        # within the claim's hold and a start-up
        assert recovered_in < 40
    finally:
        try:
            await processes.stop_all()
        finally:
            await listener.delete()
            await engine.dispose()
