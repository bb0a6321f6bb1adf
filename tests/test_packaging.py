"""The production wheel and image carry the gateway only.

The sandbox services, the `make run` stack, the development identity provider and token
minting (sandbox/), the benchmark (bench/), the local cluster with its chaos run and soak
(deploy/local/) and the tests are development tools: none of them may ship. The wheel is
built from the tracked files, as a release would, and its entries are checked; the
Dockerfile may copy nothing into the image but the package, its lock and its metadata.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.paths import REPO_ROOT

# Names that only development tooling defines: finding one in the wheel means it shipped.
DEV_ONLY_NAMES = ("def mint_token", "def create_idp_app", "def create_invoicing_app", "_sandbox/")
DEV_ONLY_TOPS = ("sandbox", "bench", "deploy", "tests", "clients", "contracts", "docs")
PACKAGE_DATA = (
    "app/schema/schema.graphql",
    "app/schema/breaking-changes.acknowledged",
    "app/db/migrations/script.py.mako",
    "app/db/migrations/versions/0001_idempotency_and_outbox.py",
    "app/http/graphiql/page.html",
    "app/http/graphiql/static/graphiql.min.js",
)


def shipped_dev_tooling(entries: dict[str, str]) -> list[str]:
    """Each wheel entry (name -> text of a .py file, else "") that is development-only."""
    found = []
    for name, text in sorted(entries.items()):
        top = name.split("/", 1)[0]
        if top in DEV_ONLY_TOPS or top.endswith(".egg-info"):
            found.append(f"{name}: development folder")
        found += [f"{name}: defines {marker!r}" for marker in DEV_ONLY_NAMES if marker in text]
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # Built from a copy of the tracked files only: what a release build would see.
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(  # noqa: S603 - argv fixed here
        ["git", "ls-files", "-z"],  # noqa: S607 - git from PATH, as a developer runs it
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in tracked)):
        if (REPO_ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    build = ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(out)]
    subprocess.run(  # noqa: S603 - this interpreter's pip, argv built here
        [sys.executable, "-m", "pip", *build, str(source)],
        check=True,
        capture_output=True,
    )
    [built] = out.glob("*.whl")
    with zipfile.ZipFile(built) as archive:
        return {
            name: archive.read(name).decode("utf-8") if name.endswith(".py") else ""
            for name in archive.namelist()
        }


def test_the_wheel_holds_the_gateway_package_only(wheel: dict[str, str]) -> None:
    tops = {name.split("/", 1)[0] for name in wheel}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"app"}
    assert shipped_dev_tooling(wheel) == []


def test_the_wheel_carries_its_package_data(wheel: dict[str, str]) -> None:
    assert [name for name in PACKAGE_DATA if name not in wheel] == []


def test_the_check_finds_development_tooling() -> None:
    entries = {
        "sandbox/stack.py": "",
        "deploy/local/chaos/run.py": "",
        "app/devtools.py": "def mint_token(key):\n    ...\n",
        "app/main.py": "def create_app(settings):\n    ...\n",
    }

    assert shipped_dev_tooling(entries) == [
        "app/devtools.py: defines 'def mint_token'",
        "deploy/local/chaos/run.py: development folder",
        "sandbox/stack.py: development folder",
    ]


def test_the_image_copies_only_the_package_its_locks_and_metadata() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = {
        source
        for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.M)
        for source in line.split()[:-1]
    }

    assert copied == {
        "requirements/runtime.lock",
        "requirements/build.lock",
        "pyproject.toml",
        "README.md",
        "app",
    }
    assert "pip wheel --wheel-dir /wheels --no-deps --no-build-isolation ." in dockerfile
    assert "pip install --no-index --find-links /wheels fintech-gateway" in dockerfile
