"""The gateway as the benchmark can vary it, to measure a lever (or its absence):

- httpcore: httpx's own transport (httpcore, anyio, h11), the default before
  app/downstream/transport.py, under both downstream clients, through create_app's
  `transports=` (app/downstream/ unchanged);
- syncperm: FieldPolicy checked synchronously (the house rule says async), to price it;
- nosniffio: `import sniffio` fails, as on an install without it;
- untuned: without app/gc_tuning.py's collector settings;
- gc10k, gc20k: with another young-generation threshold than app/gc_tuning.py's;
- loadsjson: downstream bodies parsed by `json.loads` then validated by `model_validate`,
  as before app/downstream/service.py validated them in one step (`model_validate_json`);
- fullexecutor: every field through graphql-core's executor, without app/schema/executor.py's
  short path for plain leaf fields;
- nolevels: invoice pages do not read their children for the whole page (each invoice's
  customer, payments and refunds are then loaded field by field, through the loaders).

Served by `uvicorn --factory bench.gateway_app:app_factory`; with no variant it is the
app `app.main:app` serves.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette

from app import gc_tuning
from app.main import create_app
from app.settings import load_settings
from app.wiring import Transports

VARIANTS = {
    "httpcore": ("BENCH_GATEWAY_TRANSPORT", "httpcore"),
    "syncperm": ("BENCH_GATEWAY_SYNC_PERMISSIONS", "1"),
    "nosniffio": ("BENCH_GATEWAY_HIDE_SNIFFIO", "1"),
    "untuned": ("BENCH_GATEWAY_GC_TUNING", "0"),
    "nolevels": ("BENCH_GATEWAY_NO_LEVELS", "1"),
    "loadsjson": ("BENCH_GATEWAY_LOADS_JSON", "1"),
    "fullexecutor": ("BENCH_GATEWAY_FULL_EXECUTOR", "1"),
    "gc10k": ("BENCH_GATEWAY_GC_THRESHOLD", "10000"),
    "gc20k": ("BENCH_GATEWAY_GC_THRESHOLD", "20000"),
}


class _HideSniffio:
    """Makes `import sniffio` fail, as on an install without it: httpcore then retries
    the import, and the search of sys.path behind it, on every request it sends."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "sniffio":
            raise ImportError("hidden by the benchmark")


def variant_environment(names: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for name in names:
        if name not in VARIANTS:
            raise ValueError(f"unknown gateway variant {name!r}; known: {sorted(VARIANTS)}")
        key, value = VARIANTS[name]
        env[key] = value
    return env


def _sync_permissions() -> None:
    from app.auth import policy
    from app.schema.types.guards import FieldPolicy

    def has_permission(self: FieldPolicy, source: Any, info: Any, **kwargs: Any) -> bool:
        rule = policy.FIELD_RULES[(source.type_name, info.field_name)]
        return policy.check(info.context.principal, source.business_id, rule) is None

    FieldPolicy.has_permission = has_permission  # type: ignore[assignment,method-assign]


def _loads_json() -> None:
    import json

    from pydantic import ValidationError

    from app.downstream.errors import DownstreamInvalidResponseError
    from app.downstream.service import ServiceClient

    def parse(self: ServiceClient, answer: Any, model: Any) -> Any:
        try:
            return model.model_validate(json.loads(answer.body))
        except (ValueError, ValidationError) as exc:
            raise DownstreamInvalidResponseError(
                self.name, "response body violates the contract"
            ) from exc

    setattr(ServiceClient, "_parse", parse)  # noqa: B010 - a lever under measurement


def _transports() -> Transports | None:
    if os.environ.get("BENCH_GATEWAY_TRANSPORT") != "httpcore":
        return None
    import httpx

    from app.downstream.service import SERVICE_LIMITS

    # What httpx.AsyncClient built for itself when build_http_client passed no transport.
    return {
        name: httpx.AsyncHTTPTransport(limits=SERVICE_LIMITS, trust_env=False)
        for name in ("invoicing", "payments")
    }


def app_factory() -> Starlette:
    if os.environ.get("BENCH_GATEWAY_HIDE_SNIFFIO") == "1":
        import sys

        sys.modules.pop("sniffio", None)
        sys.meta_path.insert(0, _HideSniffio())
    if os.environ.get("BENCH_GATEWAY_SYNC_PERMISSIONS") == "1":
        _sync_permissions()
    if os.environ.get("BENCH_GATEWAY_LOADS_JSON") == "1":
        _loads_json()
    if os.environ.get("BENCH_GATEWAY_NO_LEVELS") == "1":
        import app.schema.types.nodes

        # The name app.schema.types.nodes calls; replaced before any request is served.
        app.schema.types.nodes.invoice_children_wanted = lambda info: (False, False, False)  # noqa: B010
    if os.environ.get("BENCH_GATEWAY_FULL_EXECUTOR") == "1":
        from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

        from app.schema.executor import LeanExecutor

        LeanExecutor.execute_field = StrawberryGraphQLCoreExecutionContext.execute_field  # type: ignore[method-assign]
    threshold = os.environ.get("BENCH_GATEWAY_GC_THRESHOLD")
    if threshold:
        gc_tuning.YOUNG_GENERATION_THRESHOLD = int(threshold)
    return create_app(
        load_settings(),
        transports=_transports(),
        tune_gc=os.environ.get("BENCH_GATEWAY_GC_TUNING", "1") == "1",
    )
