"""Without Chromium the browser test is skipped with its reason, except where
REQUIRE_BROWSER=1 (CI), which turns the missing browser into a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.stack import artifacts_dir, chromium_path


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CHROMIUM_PATH", raising=False)


@pytest.mark.usefixtures("no_chromium")
def test_a_machine_without_chromium_skips_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REQUIRE_BROWSER", raising=False)

    with pytest.raises(pytest.skip.Exception, match="install Debian's `chromium` package"):
        chromium_path()


@pytest.mark.usefixtures("no_chromium")
def test_ci_fails_without_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRE_BROWSER", "1")

    with pytest.raises(pytest.fail.Exception, match="REQUIRE_BROWSER=1 but no Chromium"):
        chromium_path()


def test_a_configured_chromium_that_is_not_there_does_not_count(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "missing-chromium"))
    monkeypatch.setenv("REQUIRE_BROWSER", "1")

    with pytest.raises(pytest.fail.Exception):
        chromium_path()


def test_artifacts_go_where_ci_asks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TEST_ARTIFACTS_DIR", str(tmp_path / "artifacts"))

    assert artifacts_dir() == tmp_path / "artifacts"
    assert artifacts_dir().is_dir()
