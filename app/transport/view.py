"""Strawberry's ASGI view, with the request body checked before Strawberry reads it.

Strawberry trusts the body's shape in places: a JSON body that is not an object, a batch
item that is not one, a non-string `operationName` or a body nested too deeply for
Python's JSON decoder would each surface as an unhandled exception (HTTP 500). Here each
is a 400 naming the problem. The body has passed BodySizeLimit and JsonBodiesOnly.
"""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException
from strawberry.asgi import GraphQL

_OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "query": (str,),
    "operationName": (str,),
    "variables": (dict,),
    "extensions": (dict,),
}


def request_problem(body: object, *, max_batch: int) -> str | None:
    """Why `body` is not a GraphQL request (or, when batching is on, a batch), or None."""
    if isinstance(body, list):
        if max_batch == 0:
            return "Batching is not enabled"
        if not 1 <= len(body) <= max_batch:
            return f"A batch holds 1 to {max_batch} operations."
        problems = (_operation_problem(item) for item in body)
        return next((problem for problem in problems if problem), None)
    return _operation_problem(body)


def _operation_problem(item: object) -> str | None:
    if not isinstance(item, dict):
        return "A GraphQL request is a JSON object."
    for key, types in _OPTIONAL_TYPES.items():
        value = item.get(key)
        if value is not None and not isinstance(value, types):
            expected = "a string" if types == (str,) else "an object"
            return f"`{key}` must be {expected} or null."
    return None


class GatewayView(GraphQL[Any, None]):
    def decode_json(self, data: str | bytes) -> object:
        try:
            body = json.loads(data)
        except RecursionError:
            raise HTTPException(400, "The request body is nested too deeply.") from None
        config = self.schema.config.batching_config
        problem = request_problem(body, max_batch=config["max_operations"] if config else 0)
        if problem is not None:
            raise HTTPException(400, problem)
        return body
