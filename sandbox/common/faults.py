"""Fault injection: latency, failures, corrupt bodies and hangs for matching requests."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from pydantic import Field

from sandbox.common.errors import ApiError, encode_json
from sandbox.common.validation import StrictBody

FAIL_STATUSES = (429, 500, 502, 503, 504)
HANG_SECONDS = 3600.0


@dataclass(frozen=True)
class FaultConfig:
    """What to inject. Counters (`*_next`) count down as matching requests consume them."""

    latency_ms: int = 0
    fail_next: int = 0
    fail_status: int = 503
    retry_after: int | None = None
    malformed_next: int = 0
    invalid_next: int = 0
    hang_next: int = 0
    hang_after_commit: bool = False
    redirect_next: int = 0
    redirect_to: str = "https://attacker.example/collect"
    path_prefix: str | None = None
    method: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultConfigBody(StrictBody):
    """PUT /_sandbox/faults; omitted fields take their defaults."""

    latency_ms: int = Field(default=0, ge=0, le=600_000)
    fail_next: int = Field(default=0, ge=0)
    fail_status: Literal[429, 500, 502, 503, 504] = 503
    retry_after: int | None = Field(default=None, ge=0)
    malformed_next: int = Field(default=0, ge=0)
    invalid_next: int = Field(default=0, ge=0)
    hang_next: int = Field(default=0, ge=0)
    hang_after_commit: bool = False
    # A compromised or misconfigured service sending the caller elsewhere: the gateway
    # must not follow it (its service token would go along).
    redirect_next: int = Field(default=0, ge=0)
    redirect_to: str = Field(default="https://attacker.example/collect", max_length=2048)
    path_prefix: str | None = None
    method: str | None = Field(default=None, min_length=1, max_length=16)

    def to_config(self) -> FaultConfig:
        values = self.model_dump()
        if self.method is not None:
            values["method"] = self.method.upper()
        return FaultConfig(**values)


@dataclass(frozen=True)
class FaultPlan:
    """The faults one request got, decided once when it arrives."""

    latency_s: float = 0.0
    fail: ApiError | None = None
    hang_before: bool = False
    hang_after: bool = False
    malformed: bool = False
    invalid: bool = False
    redirect_to: str | None = None


def failure(status: int, retry_after: int | None) -> ApiError:
    if status == 429:
        return ApiError(
            429,
            "rate_limited",
            "Too many requests; retry after the Retry-After delay",
            headers={"Retry-After": str(1 if retry_after is None else retry_after)},
        )
    headers = {"Retry-After": str(retry_after)} if status == 503 and retry_after is not None else {}
    return ApiError(status, "api_error", "Injected sandbox failure", headers=headers)


class FaultInjector:
    def __init__(self, baseline: FaultConfig | None) -> None:
        self.baseline = baseline or FaultConfig()
        self.config = self.baseline

    def set(self, config: FaultConfig) -> None:
        self.config = config

    def reset(self) -> None:
        self.config = self.baseline

    def _matches(self, method: str, path: str) -> bool:
        cfg = self.config
        if cfg.path_prefix is not None and not path.startswith(cfg.path_prefix):
            return False
        return cfg.method is None or cfg.method == method.upper()

    def plan(self, method: str, path: str) -> FaultPlan:
        """Consume this request's share of the counters (a failure excludes the others)."""
        if not self._matches(method, path):
            return FaultPlan()
        cfg = self.config
        latency_s = cfg.latency_ms / 1000
        if cfg.fail_next > 0:
            self.config = replace(cfg, fail_next=cfg.fail_next - 1)
            return FaultPlan(latency_s, fail=failure(cfg.fail_status, cfg.retry_after))
        if cfg.redirect_next > 0:
            self.config = replace(cfg, redirect_next=cfg.redirect_next - 1)
            return FaultPlan(latency_s, redirect_to=cfg.redirect_to)
        hang = cfg.hang_next > 0
        plan = FaultPlan(
            latency_s,
            hang_before=hang and not cfg.hang_after_commit,
            hang_after=hang and cfg.hang_after_commit,
            malformed=cfg.malformed_next > 0,
            invalid=cfg.invalid_next > 0,
        )
        self.config = replace(
            cfg,
            hang_next=max(cfg.hang_next - 1, 0),
            malformed_next=max(cfg.malformed_next - 1, 0),
            invalid_next=max(cfg.invalid_next - 1, 0),
        )
        return plan


def malformed(body: bytes) -> bytes:
    """Cut the JSON short: a prefix of a JSON object or array is never valid JSON."""
    return body[: max(1, len(body) // 2)]


def _break(obj: dict[str, Any]) -> None:
    for money_field in ("amount", "total"):
        if isinstance(obj.get(money_field), int):
            obj[money_field] = obj[money_field] + 0.5  # a float where an integer is required
            return
    obj.pop("object", None)  # a required field goes missing


def schema_violating(body: bytes) -> bytes:
    """Well-formed JSON that breaks the contract's schema for the same operation."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if not isinstance(payload, dict):
        return body
    if isinstance(payload.get("error"), dict):
        payload["error"].pop("code", None)
    elif payload.get("object") == "list":
        if payload["data"]:
            _break(payload["data"][0])
        else:
            payload["has_more"] = "false"
    else:
        _break(payload)
    return encode_json(payload)
