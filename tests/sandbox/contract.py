"""Validates HTTP responses against the downstream services' OpenAPI contracts.

Reusable by any test that talks to an invoicing or payments implementation: wrap its
transport in `ContractTransport` (or give an AsyncClient `contract.event_hooks()`) and
every response is checked against the operation for its method and path, by status, with
jsonschema Draft 2020-12 and the contract's components registered for `$ref` resolution.
A status the operation does not declare fails, except the ones contracts/README.md
gives every operation (see `CONVENTION_STATUSES`), which must then carry the README's
error envelope and codes.

The contracts are the repository's vendored copy (contracts/), or $CONTRACTS_DIR.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.paths import CONTRACTS_DIR

# README "Errors" table: the codes each status may carry.
ERROR_CODES: Mapping[int, frozenset[str]] = {
    400: frozenset({"invalid_request", "idempotency_key_required", "actor_required"}),
    401: frozenset({"unauthenticated"}),
    404: frozenset({"resource_missing"}),
    409: frozenset(
        {
            "invalid_state",
            "amount_exceeds_due",
            "amount_exceeds_refundable",
            "currency_mismatch",
            "customer_business_mismatch",
            "payment_already_recorded",
            "idempotency_key_in_use",
        }
    ),
    422: frozenset({"idempotency_key_reused"}),
    429: frozenset({"rate_limited"}),
    500: frozenset({"api_error"}),
    502: frozenset({"api_error"}),
    503: frozenset({"api_error"}),
    504: frozenset({"api_error"}),
}

# Statuses README.md gives operations whether or not their own entry lists them: any
# service may rate-limit or fail (429, 5xx), and every POST answers 400 for a missing
# X-Actor-Id (finalize and void list no 400 of their own).
CONVENTION_STATUSES: Mapping[str, frozenset[int]] = {
    "get": frozenset({401, 429, 500, 502, 503, 504}),
    "post": frozenset({400, 401, 429, 500, 502, 503, 504}),
}

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


class ContractViolationError(AssertionError):
    """A response that the contract does not allow."""


def contracts_dir() -> Path:
    """The vendored contracts, or $CONTRACTS_DIR (to try another revision of them)."""
    path = Path(os.environ.get("CONTRACTS_DIR", CONTRACTS_DIR))
    if not path.is_dir():
        raise RuntimeError(f"Contracts directory not found: {path}")
    return path


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def is_datetime(value: object) -> bool:
        if not isinstance(value, str):
            return True
        shape = _RFC3339.fullmatch(value)
        if not shape:
            return False
        # RFC 3339 allows a leap second (:60), which datetime cannot hold.
        if value[17:19] == "60":
            value = value[:17] + "59" + value[19:]
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
        return True

    @checker.checks("date", raises=ValueError)
    def is_date(value: object) -> bool:
        if not isinstance(value, str):
            return True
        return re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None and bool(
            date.fromisoformat(value)
        )

    return checker


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: Mapping[str, Any]


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


class Contract:
    def __init__(self, name: str, document: Mapping[str, Any]) -> None:
        self.name = name
        self.document = document
        self.uri = f"urn:contract:{name}"
        self.registry: Registry[Any] = Registry().with_resource(
            self.uri, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        self.checker = _format_checker()
        self.operations: list[Operation] = []
        for template, item in document["paths"].items():
            regex = re.sub(r"\{([^}]+)\}", r"(?P<\1>[^/]+)", template)
            for method, spec in item.items():
                self.operations.append(Operation(method, template, re.compile(f"^{regex}$"), spec))
        # Literal paths win over templated ones that would also match.
        self.operations.sort(key=lambda op: op.template.count("{"))

    @classmethod
    def load(cls, name: str) -> Contract:
        return _load(name)

    def operation(self, method: str, path: str) -> Operation:
        for op in self.operations:
            if op.method == method.lower() and op.pattern.fullmatch(path):
                return op
        raise ContractViolationError(f"{self.name}: no operation {method.upper()} {path}")

    def _deref(self, obj: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in obj:
            node: Any = self.document
            for part in obj["$ref"].removeprefix("#/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            obj = node
        return obj

    def _check(self, schema_pointer: str, instance: object, what: str) -> None:
        validator = Draft202012Validator(
            {"$ref": f"{self.uri}#/{schema_pointer}"},
            registry=self.registry,
            format_checker=self.checker,
        )
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            first: ValidationError = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "(root)"
            raise ContractViolationError(f"{what}: at {where}: {first.message}")

    def validate(self, response: httpx.Response) -> None:
        """Raise ContractViolationError unless `response` is allowed by the contract."""
        request = response.request
        op = self.operation(request.method, request.url.path)
        status = response.status_code
        what = f"{self.name} {request.method} {request.url.path} -> {status}"
        declared = op.spec.get("responses", {})
        if str(status) in declared:
            spec = self._deref(declared[str(status)])
            pointer = _pointer("paths", op.template, op.method, "responses", str(status))
            if "$ref" in declared[str(status)]:
                pointer = declared[str(status)]["$ref"].removeprefix("#/")
        elif status in CONVENTION_STATUSES.get(op.method, frozenset()):
            spec = self._deref({"$ref": "#/components/responses/Error"})
            pointer = "components/responses/Error"
        else:
            raise ContractViolationError(f"{what}: status not declared for this operation")
        self._check_headers(spec, pointer, response, what)
        content = spec.get("content")
        if not content:
            return
        if response.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise ContractViolationError(f"{what}: content-type is not application/json")
        try:
            payload = json.loads(response.content)
        except ValueError as exc:
            raise ContractViolationError(f"{what}: body is not JSON: {exc}") from None
        self._check(f"{pointer}/content/application~1json/schema", payload, what)
        if status >= 400:
            self._check_error(status, payload, response, what)

    def _check_headers(
        self, spec: Mapping[str, Any], pointer: str, response: httpx.Response, what: str
    ) -> None:
        for name, header in spec.get("headers", {}).items():
            if name.lower() in response.headers:
                header_pointer = f"{pointer}/headers/{_pointer(name)}"
                if "$ref" in header:
                    header_pointer = header["$ref"].removeprefix("#/")
                self._check(f"{header_pointer}/schema", response.headers[name], what)

    @staticmethod
    def _check_error(
        status: int, payload: Mapping[str, Any], response: httpx.Response, what: str
    ) -> None:
        code = payload["error"]["code"]
        if code not in ERROR_CODES.get(status, frozenset()):
            raise ContractViolationError(f"{what}: error code {code!r} is not one of the README's")
        if status == 429 and not response.headers.get("retry-after", "").isdigit():
            raise ContractViolationError(f"{what}: 429 without a Retry-After in seconds")

    def event_hooks(
        self, ignore_prefixes: tuple[str, ...] = ("/_sandbox/",)
    ) -> dict[str, list[Callable[[httpx.Response], Awaitable[None]]]]:
        """httpx AsyncClient event hooks validating every response (outside the prefixes)."""

        async def check(response: httpx.Response) -> None:
            if response.request.url.path.startswith(ignore_prefixes):
                return
            await response.aread()
            self.validate(response)

        return {"response": [check]}


class ContractTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and checks every response it returns against a contract.

    strict (default): a violation raises ContractViolationError out of the request, for
    tests of an implementation. strict=False: violations are appended to `violations` and
    the response goes on untouched, for tests of a caller that must survive a broken
    downstream (e.g. the sandbox's malformed_next and invalid_next faults).
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        contract: Contract | str,
        *,
        strict: bool = True,
        ignore_prefixes: tuple[str, ...] = ("/_sandbox/",),
    ) -> None:
        self.inner = inner
        self.contract = contract if isinstance(contract, Contract) else Contract.load(contract)
        self.strict = strict
        self.ignore_prefixes = ignore_prefixes
        self.violations: list[ContractViolationError] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.startswith(self.ignore_prefixes):
            return response
        # Read the raw (still encoded) body once, then hand out two fresh responses over it:
        # one decoded here for checking, one passed on exactly as received.
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()

        def copy() -> httpx.Response:
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=httpx.ByteStream(raw),
                request=request,
                extensions=response.extensions,
            )

        checked = copy()
        await checked.aread()
        try:
            self.contract.validate(checked)
        except ContractViolationError as violation:
            if self.strict:
                raise
            self.violations.append(violation)
        return copy()

    async def aclose(self) -> None:
        await self.inner.aclose()


@cache
def _load(name: str) -> Contract:
    path = contracts_dir() / f"{name}.openapi.yaml"
    if not path.is_file():
        raise RuntimeError(f"Contract not found: {path}")
    with path.open(encoding="utf-8") as handle:
        return Contract(name, yaml.safe_load(handle))
