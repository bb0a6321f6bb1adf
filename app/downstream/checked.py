"""Reading a body against the contract: one object, or a list answer object by object.

A list answer's envelope must keep the contract (a JSON object, `object: "list"`, an
array of data, a boolean has_more), or the whole answer is refused. Each object in it is
then checked on its own: one that breaks the contract is left out as a BrokenObject,
logged with the rules it broke (never its values), and the others stand. Pydantic reads
a valid answer in one pass, as before; only an answer with a broken object is read a
second time, object by object (the same models, so the same verdicts).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from app.core.ids import is_object_id
from app.downstream.errors import DownstreamInvalidResponseError
from app.downstream.models import ContractModel, ListEnvelope, RawListEnvelope

ModelT = TypeVar("ModelT", bound=BaseModel)
ItemT = TypeVar("ItemT", bound=ContractModel)

logger = logging.getLogger("gateway.downstream")

# The fields that name objects: what is read of a broken object to attribute it (its own
# id, its business, its parent). Longer strings than this name nothing the gateway asked
# for or knows, and are not kept (the body may be megabytes).
_LINKS = ("id", "business_id", "invoice_id", "payment_id")
_LONGEST_LINK = 64


@dataclass(frozen=True, slots=True)
class BrokenObject:
    """An object of a list answer that breaks the contract, left out of it: its type,
    the ids it names where they are strings, and the rules it broke as (pydantic error
    type, location). Never its values."""

    service: str
    kind: str
    links: tuple[tuple[str, str], ...]
    rules: tuple[tuple[str, str], ...]
    id_prefix: str | None = None
    owner_field: str = "business_id"

    def link(self, name: str) -> str | None:
        return next((value for field, value in self.links if field == name), None)

    @property
    def object_id(self) -> str | None:
        return self.link("id")

    @property
    def owner(self) -> str | None:
        """The business it says it belongs to, when it says so with a string."""
        return self.link(self.owner_field)

    @property
    def well_formed_id(self) -> str | None:
        """Its id, if that has the contract's shape for its type: the only form of it
        ever shown to a client (and only where ownership allows, app/reads/ownership.py)."""
        object_id = self.object_id
        if object_id is None or self.id_prefix is None:
            return None
        return object_id if is_object_id(object_id, self.id_prefix) else None


@dataclass(frozen=True, slots=True)
class ListAnswer(Generic[ItemT]):
    """A list answer: its objects in the order given, each either valid or broken."""

    entries: list[ItemT | BrokenObject]
    has_more: bool

    @property
    def items(self) -> list[ItemT]:
        return [entry for entry in self.entries if not isinstance(entry, BrokenObject)]

    @property
    def broken(self) -> list[BrokenObject]:
        return [entry for entry in self.entries if isinstance(entry, BrokenObject)]


def parse_one(service: str, body: bytes, model: type[ModelT], *, one_pass: bool) -> ModelT:
    """The body as one object of `model`, or DownstreamInvalidResponseError."""
    try:
        if not one_pass:
            return model.model_validate(_loads(body))
        _refuse_constants(body)
        return model.model_validate_json(body)
    except (ValueError, ValidationError) as exc:
        raise _invalid(service) from exc


def parse_list(
    service: str, route: str, body: bytes, model: type[ItemT], *, one_pass: bool
) -> ListAnswer[ItemT]:
    """The body as a list of `model`: DownstreamInvalidResponseError if it is not JSON or
    its envelope breaks the contract; otherwise every object, valid or broken."""
    envelope_model: type[ListEnvelope[ItemT]] = ListEnvelope[model]  # type: ignore[valid-type]
    try:
        payload: Any = body if one_pass else _loads(body)
        if one_pass:
            _refuse_constants(body)
    except ValueError as exc:
        raise _invalid(service) from exc
    try:
        valid = (
            envelope_model.model_validate_json(body)
            if one_pass
            else envelope_model.model_validate(payload)
        )
        return ListAnswer(entries=list(valid.data), has_more=valid.has_more)
    except ValidationError:
        pass  # read again below, object by object, to keep what is valid
    try:
        raw = (
            RawListEnvelope.model_validate_json(body)
            if one_pass
            else RawListEnvelope.model_validate(payload)
        )
    except ValidationError as exc:
        raise _invalid(service) from exc
    entries = [_checked(service, route, item, model) for item in raw.data]
    return ListAnswer(entries=entries, has_more=raw.has_more)


def _checked(service: str, route: str, item: object, model: type[ItemT]) -> ItemT | BrokenObject:
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        broken = BrokenObject(
            service=service,
            kind=model.__name__,
            links=_links(item),
            rules=tuple(
                (error["type"], ".".join(str(part) for part in error["loc"]))
                for error in exc.errors(include_url=False, include_input=False)
            ),
            id_prefix=model.ID_PREFIX,
            owner_field=model.OWNER_FIELD,
        )
    logger.warning(
        "downstream object breaks the contract; left out",
        extra={
            "event": "downstream_invalid_object",
            "service": service,
            "route": route,
            "type": broken.kind,
            "object_id": broken.object_id,
            "rules": [f"{kind} at {where or '(object)'}" for kind, where in broken.rules],
        },
    )
    return broken


def _links(item: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(item, dict):
        return ()
    return tuple(
        (name, value)
        for name in _LINKS
        if isinstance(value := item.get(name), str) and len(value) <= _LONGEST_LINK
    )


def _invalid(service: str) -> DownstreamInvalidResponseError:
    return DownstreamInvalidResponseError(service, "response body violates the contract")


def _loads(body: bytes) -> Any:
    # Decoded as UTF-8 first: json.loads would also take UTF-16 and a BOM, which the
    # one-pass parser refuses.
    return json.loads(body.decode(), parse_constant=_reject_constant)


def _refuse_constants(body: bytes) -> None:
    # pydantic parses and validates in one pass (bench/ab.py: 6% of a dashboard's CPU)
    # but lets NaN and Infinity through where a field is ignored. They are not JSON: a
    # body that may hold one is read by the exact parser first.
    if b"NaN" in body or b"Infinity" in body:
        json.loads(body, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
