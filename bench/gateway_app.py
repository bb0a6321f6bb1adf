"""The gateway as the benchmark can vary it, to measure a lever (or its absence).

Every variant is the app `create_app` builds, with other `Levers` (app/levers.py) or
other downstream `transports=`: each lever is an argument of the component that owns it,
and nothing here assigns to anything in `app`.

- httpcore: httpx's own transport (httpcore, anyio, h11), the default before
  app/downstream/transport.py, under both downstream clients (`transports=`);
- untuned: without app/gc_tuning.py's collector settings (`gc_young_threshold=None`);
- gc10k, gc20k: with another young-generation threshold than the served app's;
- loadsjson: downstream bodies parsed by `json.loads` then validated, as before
  app/downstream/service.py validated them in one pass (`one_pass_json=False`);
- fullexecutor: every field through graphql-core's executor, without app/schema/executor.py's
  short path for plain fields (`lean_executor=False`);
- nocompiled: without app/schema/compiled/'s plans per known document, the short path
  alone (`compiled_plans=False`);
- noguards: compiled plans, but the guarded fields through Strawberry's resolver wrapper
  and Info, as in the plans' first version (`compiled_guards=False`);
- noleaves: compiled plans, but every plain scalar and enum field through its completer
  with its path built, as before the plans' `Leaf` (`leaf_steps=False`);
- nolevels: invoice pages do not read their children for the whole page; each invoice's
  customer, payments and refunds are loaded field by field (`whole_page_children=False`);
- httpxreads: the service clients' GETs through httpx's Request and Response objects
  over aiohttp, as before app/downstream/direct.py (`direct_reads=False`);
- eagerretries: every attempt of a call inside tenacity, the first included, as before
  app/downstream/retry.py entered it only after a transient failure (`lazy_retries=False`);
- nojwtcache: every request's token signature checked, as before app/auth/verified.py
  kept accepted tokens' claims (`verified_tokens=0`);
- nosingleflight: each request makes its own downstream GETs, even when an identical
  one is in flight for another (`single_flight=False`);
- nosniffio: `import sniffio` fails, as on an install without it. Not a lever of the
  app: it simulates another environment, with an import hook on this process's
  `sys.meta_path`, installed before the app is built.

Served by `uvicorn --factory bench.gateway_app:app_factory`, each variant chosen by the
environment (`variant_environment`, used by bench/ab.py and bench/stack.py); with no
variant it is the app `app.main:app` serves (`Levers.served()`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette

from app.core.settings import load_settings
from app.levers import Levers
from app.main import create_app
from app.wiring.resources import Transports

VARIANTS = {
    "httpcore": ("BENCH_GATEWAY_TRANSPORT", "httpcore"),
    "nosniffio": ("BENCH_GATEWAY_HIDE_SNIFFIO", "1"),
    "untuned": ("BENCH_GATEWAY_GC_TUNING", "0"),
    "nolevels": ("BENCH_GATEWAY_NO_LEVELS", "1"),
    "loadsjson": ("BENCH_GATEWAY_LOADS_JSON", "1"),
    "fullexecutor": ("BENCH_GATEWAY_FULL_EXECUTOR", "1"),
    "httpxreads": ("BENCH_GATEWAY_HTTPX_READS", "1"),
    "eagerretries": ("BENCH_GATEWAY_EAGER_RETRIES", "1"),
    "nojwtcache": ("BENCH_GATEWAY_NO_JWT_CACHE", "1"),
    "nosingleflight": ("BENCH_GATEWAY_NO_SINGLE_FLIGHT", "1"),
    "nocompiled": ("BENCH_GATEWAY_NO_COMPILED", "1"),
    "noguards": ("BENCH_GATEWAY_NO_GUARDS", "1"),
    "noleaves": ("BENCH_GATEWAY_NO_LEAVES", "1"),
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


def levers_from(environ: Mapping[str, str]) -> Levers:
    """The served app's levers, less those the variant environment turns off."""
    served = Levers.served()
    threshold = served.gc_young_threshold
    if environ.get("BENCH_GATEWAY_GC_THRESHOLD"):
        threshold = int(environ["BENCH_GATEWAY_GC_THRESHOLD"])
    if environ.get("BENCH_GATEWAY_GC_TUNING", "1") != "1":
        threshold = None
    return dataclasses.replace(
        served,
        lean_executor=environ.get("BENCH_GATEWAY_FULL_EXECUTOR") != "1",
        compiled_plans=environ.get("BENCH_GATEWAY_NO_COMPILED") != "1",
        compiled_guards=environ.get("BENCH_GATEWAY_NO_GUARDS") != "1",
        leaf_steps=environ.get("BENCH_GATEWAY_NO_LEAVES") != "1",
        whole_page_children=environ.get("BENCH_GATEWAY_NO_LEVELS") != "1",
        one_pass_json=environ.get("BENCH_GATEWAY_LOADS_JSON") != "1",
        direct_reads=environ.get("BENCH_GATEWAY_HTTPX_READS") != "1",
        lazy_retries=environ.get("BENCH_GATEWAY_EAGER_RETRIES") != "1",
        single_flight=environ.get("BENCH_GATEWAY_NO_SINGLE_FLIGHT") != "1",
        verified_tokens=0
        if environ.get("BENCH_GATEWAY_NO_JWT_CACHE") == "1"
        else served.verified_tokens,
        gc_young_threshold=threshold,
    )


def transports_from(environ: Mapping[str, str]) -> Transports | None:
    if environ.get("BENCH_GATEWAY_TRANSPORT") != "httpcore":
        return None
    import httpx

    from app.downstream.service import SERVICE_LIMITS

    # What httpx.AsyncClient built for itself when build_http_client passed no transport.
    return {
        name: httpx.AsyncHTTPTransport(limits=SERVICE_LIMITS, trust_env=False)
        for name in ("invoicing", "payments")
    }


def _hide_sniffio() -> None:
    if not any(isinstance(finder, _HideSniffio) for finder in sys.meta_path):
        sys.modules.pop("sniffio", None)
        sys.meta_path.insert(0, _HideSniffio())


def app_factory() -> Starlette:
    environ = os.environ
    if environ.get("BENCH_GATEWAY_HIDE_SNIFFIO") == "1":
        _hide_sniffio()
    return create_app(
        load_settings(), transports=transports_from(environ), levers=levers_from(environ)
    )
