"""The benchmark's sandbox response cache changes nothing a caller can observe: same
bytes, every call logged, the token checked, latency kept, and no stale read after a
write."""

from __future__ import annotations

import time
from typing import Any

import httpx

from bench.sandbox_server import ResponseCache
from sandbox.common.faults import FaultConfig
from sandbox.invoicing import create_invoicing_app
from sandbox.seed import GB_BUSINESS_ID, GB_CUSTOMER_ID

TOKEN = "cache-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def cached_sandbox(latency_ms: int = 0) -> tuple[ResponseCache, httpx.AsyncClient]:
    app = create_invoicing_app(token=TOKEN, faults=FaultConfig(latency_ms=latency_ms))
    cache = ResponseCache(app)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=cache), base_url="http://s")
    return cache, client


async def calls(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = (await client.get("/_sandbox/calls", headers=AUTH)).json()["data"]
    return data


async def test_a_repeated_read_is_served_from_the_cache_with_the_same_bytes_and_logged() -> None:
    cache, client = cached_sandbox()
    params = {"ids": GB_BUSINESS_ID}
    async with client:
        first = await client.get("/v1/businesses", params=params, headers=AUTH)
        second = await client.get("/v1/businesses", params=params, headers=AUTH)
        logged = await calls(client)

    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.headers["content-type"] == first.headers["content-type"]
    assert cache.hits == 1
    assert [c["path"] for c in logged] == ["/v1/businesses", "/v1/businesses"]


async def test_a_cached_read_still_needs_the_token_and_refusals_are_never_cached() -> None:
    cache, client = cached_sandbox()
    async with client:
        await client.get("/v1/businesses", params={"ids": GB_BUSINESS_ID}, headers=AUTH)
        refused = await client.get(
            "/v1/businesses",
            params={"ids": GB_BUSINESS_ID},
            headers={"Authorization": "Bearer wrong"},
        )
        unknown = await client.get("/v1/nothing", headers=AUTH)
        again = await client.get("/v1/nothing", headers=AUTH)

    assert refused.status_code == 401
    assert unknown.status_code == again.status_code == 404
    assert cache.hits == 0


async def test_a_cached_read_keeps_the_injected_latency() -> None:
    cache, client = cached_sandbox(latency_ms=30)
    async with client:
        await client.get("/v1/businesses", params={"ids": GB_BUSINESS_ID}, headers=AUTH)
        started = time.perf_counter()
        await client.get("/v1/businesses", params={"ids": GB_BUSINESS_ID}, headers=AUTH)
        elapsed = time.perf_counter() - started

    assert cache.hits == 1
    assert elapsed >= 0.03


async def test_a_write_empties_the_cache_so_the_next_read_is_fresh() -> None:
    cache, client = cached_sandbox()
    params = {"business_id": GB_BUSINESS_ID, "limit": "100"}
    async with client:
        before = (await client.get("/v1/customers", params=params, headers=AUTH)).json()
        created = await client.post(
            "/v1/customers",
            json={"business_id": GB_BUSINESS_ID, "name": "Fresh"},
            headers={**AUTH, "X-Actor-Id": "tester"},
        )
        after = (await client.get("/v1/customers", params=params, headers=AUTH)).json()

    assert created.status_code in (200, 201)
    assert cache.hits == 0
    assert after["data"][0]["name"] == "Fresh"
    assert after["data"] != before["data"]
    assert GB_CUSTOMER_ID in {c["id"] for c in before["data"]}


async def test_an_injected_fault_bypasses_the_cache() -> None:
    cache, client = cached_sandbox()
    params = {"ids": GB_BUSINESS_ID}
    async with client:
        await client.get("/v1/businesses", params=params, headers=AUTH)
        await client.put("/_sandbox/faults", json={"fail_next": 1}, headers=AUTH)
        failed = await client.get("/v1/businesses", params=params, headers=AUTH)

    assert failed.status_code == 503
    assert cache.hits == 0
