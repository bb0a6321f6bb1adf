"""The served app freezes what start-up built and collects the young generation less
often (app/gc_tuning.py), at the threshold its levers give; an app built by tests leaves
the interpreter alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import app.main
from app.gc_tuning import YOUNG_GENERATION_THRESHOLD, settle_after_startup
from app.levers import Levers
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
    served = create_app(settings, levers=Levers.served())
    gc.unfreeze()

    async with served.router.lifespan_context(served):
        assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD == 50_000
        assert gc.get_freeze_count() > 0


async def test_the_threshold_is_the_levers(tmp_path: Path, restored_gc: None) -> None:
    settings = gateway_settings(f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}")
    built = create_app(settings, levers=Levers(gc_young_threshold=12_345))

    async with built.router.lifespan_context(built):
        assert gc.get_threshold()[0] == 12_345


def test_settling_sets_the_young_threshold_it_is_given_and_freezes(restored_gc: None) -> None:
    gc.unfreeze()
    older = gc.get_threshold()[1:]

    settle_after_startup(20_000)

    assert gc.get_threshold() == (20_000, *older)
    assert gc.get_freeze_count() > 0


@pytest.mark.parametrize("threshold", [0, -1])
def test_a_threshold_that_would_stop_collection_is_refused(
    threshold: int, restored_gc: None
) -> None:
    before = gc.get_threshold()

    with pytest.raises(ValueError, match="at least 1"):
        settle_after_startup(threshold)

    assert gc.get_threshold() == before


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

    assert built == [{"levers": Levers.served()}]
    assert Levers.served().gc_young_threshold == YOUNG_GENERATION_THRESHOLD
