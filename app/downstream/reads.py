"""Batch reads and listings shared by both services: split at the contract's 100 ids,
and never pass on an object the service was not asked for."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from app.downstream.models import ContractModel, ListEnvelope
from app.downstream.service import ServiceClient

BATCH_LIMIT = 100
security_log = logging.getLogger("gateway.security")

ItemT = TypeVar("ItemT", bound=ContractModel)


@dataclass(frozen=True, slots=True)
class Page(Generic[ItemT]):
    items: list[ItemT]
    has_more: bool


def drop_foreign(
    service: str, items: Sequence[ItemT], belongs: Callable[[ItemT], bool], what: str
) -> list[ItemT]:
    """Keep what belongs to the request; anything else is a downstream bug that would
    show one business's data to another, so it is dropped and logged, never shown."""
    kept = [item for item in items if belongs(item)]
    if len(kept) != len(items):
        security_log.warning(
            "downstream returned objects it was not asked for",
            extra={
                "event": "downstream_foreign_object",
                "service": service,
                "request": what,
                "dropped": len(items) - len(kept),
            },
        )
    return kept


async def batch_read(
    client: ServiceClient,
    path: str,
    param: str,
    keys: Sequence[str],
    model: type[ItemT],
    key_of: Callable[[ItemT], str],
) -> list[ItemT]:
    found: list[ItemT] = []
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), BATCH_LIMIT):
        chunk = unique[start : start + BATCH_LIMIT]
        page = await client.get(path, {param: ",".join(chunk)}, ListEnvelope[model])  # type: ignore[valid-type]
        found.extend(_asked_for(client.name, page.data, frozenset(chunk), key_of, path))
    return found


async def listing(
    client: ServiceClient,
    path: str,
    business_id: str,
    model: type[ItemT],
    business_of: Callable[[ItemT], str],
    *,
    limit: int,
    starting_after: str | None,
    filters: dict[str, str] | None = None,
) -> Page[ItemT]:
    params = {"business_id": business_id, "limit": str(limit), **(filters or {})}
    if starting_after is not None:
        params["starting_after"] = starting_after
    page = await client.get(path, params, ListEnvelope[model])  # type: ignore[valid-type]
    items = drop_foreign(
        client.name, page.data, lambda item: business_of(item) == business_id, f"{path} listing"
    )
    # A page longer than asked is a lying service too; never show more than asked.
    return Page(items=items[:limit], has_more=page.has_more or len(items) > limit)


def _asked_for(
    service: str,
    items: Sequence[ItemT],
    asked: frozenset[str],
    key_of: Callable[[ItemT], str],
    path: str,
) -> list[ItemT]:
    return drop_foreign(service, items, lambda item: key_of(item) in asked, f"{path} batch")
