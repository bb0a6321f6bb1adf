"""Request bodies: strict pydantic models mapped onto the 400 invalid_request envelope."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from sandbox.common.errors import invalid

ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictBody(BaseModel):
    """Mirrors `additionalProperties: false` and JSON Schema types (bool is not an int)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def parse_body(model: type[ModelT], raw: bytes) -> ModelT:
    try:
        return model.model_validate_json(raw or b"null", strict=True)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = first["loc"]
        if not loc or first["type"] in {"json_invalid", "model_type"}:
            raise invalid("The request body must be a JSON object", None) from None
        param = ".".join(str(part) for part in loc)
        raise invalid(f"Invalid '{param}': {first['msg']}", param) from None
