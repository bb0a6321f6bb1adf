"""A field cancelled while it waits for a shared load (graphql-core cancels a failed
field's siblings) leaves the load to the other fields waiting for the same key."""

from __future__ import annotations

import asyncio

import pytest

from app.reads.loaders import Loader


@pytest.mark.parametrize("many", [False, True], ids=["load", "load_many"])
async def test_cancelling_one_waiter_leaves_the_shared_load_to_the_others(many: bool) -> None:
    # given a load that answers once released, and two fields waiting for the same key
    release = asyncio.Event()

    async def batch(keys: list[str]) -> list[str]:
        await release.wait()
        return [key.upper() for key in keys]

    loader: Loader[str, str] = Loader(batch)

    async def wait() -> object:
        return await (loader.load_many(["a"]) if many else loader.load("a"))

    cancelled = asyncio.ensure_future(wait())
    other = asyncio.ensure_future(wait())
    await asyncio.sleep(0)

    # when the first is cancelled (its sibling failed) before the answer comes
    cancelled.cancel()
    await asyncio.sleep(0)
    release.set()

    # then only it is cancelled; the other field, and a later load, get the value
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await other == (["A"] if many else "A")
    assert await loader.load("a") == "A"
