"""Batch reads and listings shared by both services: split at the contract's 100 ids,
never send an id that does not have the contract's shape, and never pass on an object
the service was not asked for. An object that breaks the contract is left out and handed
back beside the others as a BrokenObject (app/downstream/checked.py); a `strict` read
refuses the whole answer instead, for the decisions that move money."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from app.core.ids import is_object_id
from app.downstream.checked import BrokenObject
from app.downstream.errors import DownstreamInvalidResponseError
from app.downstream.models import ContractModel
from app.downstream.service import ServiceClient

BATCH_LIMIT = 100
security_log = logging.getLogger("gateway.security")

ItemT = TypeVar("ItemT", bound=ContractModel)
AnyT = TypeVar("AnyT")


class Found(list[ItemT], Generic[ItemT]):
    """What a batch read found: the objects that keep the contract, as a list, and in
    `broken` those that do not (left out; logged where they were read)."""

    def __init__(self, items: Iterable[ItemT] = (), broken: Iterable[BrokenObject] = ()) -> None:
        super().__init__(items)
        self.broken: tuple[BrokenObject, ...] = tuple(broken)


@dataclass(frozen=True, slots=True)
class Page(Generic[ItemT]):
    items: list[ItemT]
    has_more: bool
    # The objects of this page that broke the contract, left out of `items`.
    broken: tuple[BrokenObject, ...] = ()


def drop_foreign(
    service: str, items: Sequence[AnyT], belongs: Callable[[AnyT], bool], what: str
) -> list[AnyT]:
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


@dataclass(frozen=True, slots=True)
class Batch:
    """How one kind of batch read is asked and answered: `GET path?param=a,b,c`, each key
    of the shape `key_prefix`, answered by objects whose `key_field` is one of the keys.
    `whole`: the contract says this answer has has_more false, so a true one breaks it."""

    path: str
    param: str
    key_field: str
    key_prefix: str
    whole: bool = True


async def batch_read(
    client: ServiceClient,
    batch: Batch,
    keys: Sequence[str],
    model: type[ItemT],
    *,
    strict: bool = False,
) -> Found[ItemT]:
    """Every object of `keys`. A key without the contract's id shape names nothing and is
    not sent: a comma in it would smuggle another id into the list. `strict`: any object
    of the answer that breaks the contract refuses the whole read."""
    found: list[ItemT] = []
    broken: list[BrokenObject] = []
    unique = [key for key in dict.fromkeys(keys) if is_object_id(key, batch.key_prefix)]
    for start in range(0, len(unique), BATCH_LIMIT):
        chunk = unique[start : start + BATCH_LIMIT]
        answer = await client.get_list(batch.path, {batch.param: ",".join(chunk)}, model)
        if batch.whole and answer.has_more:
            raise DownstreamInvalidResponseError(
                client.name, f"{batch.path} by {batch.param} answered has_more true"
            )
        found.extend(_asked_for(client.name, batch, answer.items, frozenset(chunk)))
        broken.extend(answer.broken)
    if strict and broken:
        raise DownstreamInvalidResponseError(
            client.name, f"{len(broken)} objects of a {batch.path} batch break the contract"
        )
    return Found(found, broken)


async def listing(
    client: ServiceClient,
    path: str,
    business_id: str,
    model: type[ItemT],
    *,
    limit: int,
    starting_after: str | None,
    filters: dict[str, str] | None = None,
) -> Page[ItemT]:
    params = {"business_id": business_id, "limit": str(limit), **(filters or {})}
    if starting_after is not None:
        params["starting_after"] = starting_after
    answer = await client.get_list(path, params, model)
    # A broken object's business is not known for sure: it is kept here, and the read
    # side decides what the caller may learn of it (app/reads/ownership.py).
    entries = drop_foreign(
        client.name,
        answer.entries,
        lambda entry: (
            isinstance(entry, BrokenObject) or getattr(entry, "business_id", None) == business_id
        ),
        f"{path} listing",
    )
    # A page longer than asked is a lying service too; never show more than asked.
    shown = entries[:limit]
    return Page(
        items=[entry for entry in shown if not isinstance(entry, BrokenObject)],
        has_more=answer.has_more or len(entries) > limit,
        broken=tuple(entry for entry in shown if isinstance(entry, BrokenObject)),
    )


def _asked_for(
    service: str, batch: Batch, items: Sequence[ItemT], asked: frozenset[str]
) -> list[ItemT]:
    return drop_foreign(
        service,
        items,
        lambda item: getattr(item, batch.key_field) in asked,
        f"{batch.path} batch",
    )
