"""The event relay as the app runs it: started with AMQP_URL (events published, metrics
counted, the backlog reported), absent without (events stay in the table, no backlog
alarm); and AMQP_URL's checks at start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.core.settings import SettingsError
from app.events.store import EventStore
from tests.e2e.mutation_helpers import CREATE_CUSTOMER, mutate, valid_input
from tests.events.broker import Listener
from tests.mutations.conftest import WorldFactory, saga_settings
from tests.mutations.helpers import eventually

METRICS_TOKEN = "events-metrics-token-0123456789abcdef"  # noqa: S105 - test value


@pytest.fixture
async def listener(rabbitmq_server_url: str) -> AsyncIterator[Listener]:
    queue = Listener(rabbitmq_server_url)
    await queue.bind()
    yield queue
    await queue.delete()


async def scrape(client: httpx.AsyncClient, name: str) -> float | None:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    for line in response.text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return None


async def test_with_a_broker_the_app_publishes_and_counts(
    world_factory: WorldFactory, listener: Listener
) -> None:
    # Given a gateway with AMQP_URL set; when a customer is created
    world = await world_factory(amqp_url=listener.url, metrics_token=METRICS_TOKEN)
    payload = await mutate(
        world.client, CREATE_CUSTOMER, world.token, valid_input(CREATE_CUSTOMER, "c-1")
    )

    # Then its event reaches the broker, and the published counter says so
    ((event, _),) = await listener.drain(at_least=1)
    assert (event.type.value, event.subject) == ("customer.created", payload["customer"]["id"])

    async def counted() -> bool:
        return await scrape(world.client, "gateway_events_published_total") == 1.0

    await eventually(counted, within=10, what="the published counter")

    async def no_backlog() -> bool:
        return await scrape(world.client, "gateway_events_backlog") == 0.0

    await eventually(no_backlog, within=10, what="the backlog gauge")
    assert await scrape(world.client, "gateway_events_publish_failures_total") == 0.0
    assert await scrape(world.client, "gateway_events_oldest_unpublished_age_seconds") == 0.0


async def test_a_broker_that_is_down_shows_as_a_growing_backlog(
    world_factory: WorldFactory, unused_port: int
) -> None:
    # Given a gateway whose broker refuses connections; when a customer is created
    world = await world_factory(
        amqp_url=f"amqp://guest:guest@127.0.0.1:{unused_port}/", metrics_token=METRICS_TOKEN
    )
    await mutate(world.client, CREATE_CUSTOMER, world.token, valid_input(CREATE_CUSTOMER, "c-1"))

    # Then the failure is counted, and the backlog shows the event and its age
    async def alarming() -> bool:
        failures = await scrape(world.client, "gateway_events_publish_failures_total")
        backlog = await scrape(world.client, "gateway_events_backlog")
        age = await scrape(world.client, "gateway_events_oldest_unpublished_age_seconds")
        return bool(failures and backlog == 1.0 and age and age > 0)

    await eventually(alarming, within=10, what="the backlog to show")
    assert await scrape(world.client, "gateway_events_published_total") == 0.0


async def test_without_a_broker_events_stay_in_the_table_and_nothing_alarms(
    world_factory: WorldFactory,
) -> None:
    # Given a gateway without AMQP_URL; when a customer is created
    world = await world_factory(metrics_token=METRICS_TOKEN)
    await mutate(world.client, CREATE_CUSTOMER, world.token, valid_input(CREATE_CUSTOMER, "c-1"))

    # Then the event is recorded, unpublished, and the backlog is never reported as
    # growing (the gauges stay at zero: nothing is meant to publish)
    assert (await EventStore(world.engine).backlog()).unpublished == 1
    assert await scrape(world.client, "gateway_events_backlog") == 0.0
    assert await scrape(world.client, "gateway_events_published_total") == 0.0


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://broker:5672/", "AMQP_URL: must be an amqp:// or amqps:// URL"),
        ("amqp:///", "AMQP_URL: must be an amqp:// or amqps:// URL"),
        (
            "amqp://user:secret@broker.internal:5672/",
            "AMQP_URL: must be amqps:// in production (or loopback)",
        ),
    ],
)
def test_a_bad_amqp_url_stops_the_start(url: str, problem: str) -> None:
    with pytest.raises(SettingsError) as refused:
        saga_settings("sqlite+aiosqlite:///x.db", amqp_url=url)
    assert str(refused.value).endswith(problem)
    assert "user:secret@" not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "amqps://user:secret@broker.internal:5671/",
        "amqp://guest:guest@127.0.0.1:5672/",
        "amqp://guest:guest@localhost/",
    ],
)
def test_amqps_anywhere_and_amqp_on_loopback_are_accepted(url: str) -> None:
    settings = saga_settings("sqlite+aiosqlite:///x.db", amqp_url=url)
    assert settings.amqp_url == url
    assert "user:secret@" not in repr(settings)


def test_an_empty_amqp_url_means_no_broker() -> None:
    assert saga_settings("sqlite+aiosqlite:///x.db", amqp_url=" ").amqp_url is None
