"""The served app freezes what start-up built and collects the young generation less
often (app/gc_tuning.py); an app built by tests leaves the interpreter alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import app.main
from app.gc_tuning import YOUNG_GENERATION_THRESHOLD
from app.main import create_app
from tests.e2e.conftest import gateway_settings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


async def test_a_tuning_app_freezes_start_up_and_raises_the_young_threshold(
    tmp_path: Path, restored_gc: None
) -> None:
    settings = gateway_settings(f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}")
    served = create_app(settings, tune_gc=True)
    gc.unfreeze()

    async with served.router.lifespan_context(served):
        assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
        assert gc.get_freeze_count() > 0


async def test_an_app_built_without_tuning_leaves_the_collector_alone(
    tmp_path: Path, restored_gc: None
) -> None:
    settings = gateway_settings(f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}")
    built = create_app(settings)
    gc.unfreeze()
    before = gc.get_threshold()

    async with built.router.lifespan_context(built):
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0


async def test_the_served_app_is_built_with_tuning(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[dict[str, Any]] = []

    async def noop(scope: object, receive: object, send: object) -> None:
        return None

    def factory(settings: object, **options: Any) -> Any:
        built.append(options)
        return noop

    monkeypatch.setattr(app.main, "create_app", factory)
    monkeypatch.setattr(
        app.main, "load_settings", lambda: SimpleNamespace(log_level="INFO", log_format="json")
    )
    # Process-wide logging and error reporting are the entry point's too; not this test's.
    monkeypatch.setattr(app.main, "configure_logging", lambda *_a, **_k: None)
    monkeypatch.setattr(app.main, "start_error_reporting", lambda _s: False)

    await app.main._AppFromEnvironment()({"type": "lifespan"}, noop, noop)  # type: ignore[arg-type]

    assert built == [{"tune_gc": True}]
