"""bench/gateway_app.py builds every variant by handing create_app other Levers (or other
transports): from the same environment variables bench/ab.py and bench/stack.py set, and
without assigning to anything in `app`."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
from typing import Any

import pytest
from starlette.applications import Starlette

import bench.gateway_app
from app.gc_tuning import YOUNG_GENERATION_THRESHOLD
from app.levers import Levers
from bench.gateway_app import (
    VARIANTS,
    app_factory,
    levers_from,
    transports_from,
    variant_environment,
)

SERVED = Levers.served()
EXPECTED_LEVERS = {
    "": SERVED,
    "httpcore": SERVED,
    "nosniffio": SERVED,
    "untuned": dataclasses.replace(SERVED, gc_young_threshold=None),
    "gc10k": dataclasses.replace(SERVED, gc_young_threshold=10_000),
    "gc20k": dataclasses.replace(SERVED, gc_young_threshold=20_000),
    "loadsjson": dataclasses.replace(SERVED, one_pass_json=False),
    "fullexecutor": dataclasses.replace(SERVED, lean_executor=False),
    "nolevels": dataclasses.replace(SERVED, whole_page_children=False),
    "httpxreads": dataclasses.replace(SERVED, direct_reads=False),
    "eagerretries": dataclasses.replace(SERVED, lazy_retries=False),
    "nojwtcache": dataclasses.replace(SERVED, verified_tokens=0),
    "nosingleflight": dataclasses.replace(SERVED, single_flight=False),
    "nocompiled": dataclasses.replace(SERVED, compiled_plans=False),
    "noguards": dataclasses.replace(SERVED, compiled_guards=False),
    "noleaves": dataclasses.replace(SERVED, leaf_steps=False),
    "untuned+gc10k": dataclasses.replace(SERVED, gc_young_threshold=None),
    "nolevels+loadsjson+fullexecutor": Levers(
        lean_executor=False,
        whole_page_children=False,
        one_pass_json=False,
        gc_young_threshold=YOUNG_GENERATION_THRESHOLD,
    ),
}


def _names(variant: str) -> list[str]:
    return variant.split("+") if variant else []


@pytest.fixture
def bench_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Settings the factory can load, no variant set, and the import machinery restored
    afterwards (the nosniffio variant hooks this process's imports)."""
    monkeypatch.setenv("APP_ENV", "development")
    for key, _value in VARIANTS.values():
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    if "sniffio" in sys.modules:
        monkeypatch.setitem(sys.modules, "sniffio", sys.modules["sniffio"])
    return monkeypatch


def test_every_variant_is_known_and_syncperm_is_gone() -> None:
    # Synchronous permission checks are the shipped app now, not a variant.
    assert {n for v in EXPECTED_LEVERS for n in _names(v)} == set(VARIANTS)
    with pytest.raises(ValueError, match="unknown gateway variant 'syncperm'"):
        variant_environment(["syncperm"])


@pytest.mark.parametrize("variant", EXPECTED_LEVERS)
def test_each_variant_is_the_served_levers_less_the_ones_it_turns_off(variant: str) -> None:
    environment = variant_environment(_names(variant))

    assert levers_from(environment) == EXPECTED_LEVERS[variant]
    assert (transports_from(environment) is not None) == ("httpcore" in _names(variant))


@pytest.mark.parametrize("variant", EXPECTED_LEVERS)
def test_the_factory_hands_create_app_the_variants_levers_and_transports(
    bench_environment: pytest.MonkeyPatch, variant: str
) -> None:
    built: list[dict[str, Any]] = []

    def create_app(settings: object, **options: Any) -> Starlette:
        built.append(options)
        return Starlette()

    for key, value in variant_environment(_names(variant)).items():
        bench_environment.setenv(key, value)
    bench_environment.setattr(bench.gateway_app, "create_app", create_app)

    app_factory()

    assert [options["levers"] for options in built] == [EXPECTED_LEVERS[variant]]
    transports = built[0]["transports"]
    assert (transports is not None) == ("httpcore" in _names(variant))
    if transports is not None:
        assert set(transports) == {"invoicing", "payments"}


def _app_modules() -> list[Any]:
    return [
        module
        for name, module in sorted(sys.modules.items())
        if (name == "app" or name.startswith("app.")) and module is not None
    ]


def _attributes() -> dict[tuple[str, ...], object]:
    """Every attribute of every loaded `app` module, and of every class they define."""
    found: dict[tuple[str, ...], object] = {}
    for module in _app_modules():
        for name, value in vars(module).items():
            found[(module.__name__, name)] = value
            if inspect.isclass(value) and value.__module__ == module.__name__:
                for attribute, member in vars(value).items():
                    found[(module.__name__, name, attribute)] = member
    return found


def test_building_every_variant_assigns_to_nothing_in_app(
    bench_environment: pytest.MonkeyPatch,
) -> None:
    # Given an app built once (so every module the factory imports is loaded)
    app_factory()
    before = _attributes()

    # When every variant, alone and combined, is built
    for variant in EXPECTED_LEVERS:
        with pytest.MonkeyPatch.context() as variant_environment_only:
            for key, value in variant_environment(_names(variant)).items():
                variant_environment_only.setenv(key, value)
            assert isinstance(app_factory(), Starlette)

    # Then no module or class attribute of the app was added, replaced or removed
    after = _attributes()
    changed = {key for key in before.keys() | after.keys() if before.get(key) is not after.get(key)}
    assert changed == set()
    # (and the one environment variant did what it says, to this process only)
    with pytest.raises(ImportError, match="hidden by the benchmark"):
        importlib.import_module("sniffio")
