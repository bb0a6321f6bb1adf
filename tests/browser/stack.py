"""A real gateway for the browser: sandbox services, identity provider and a production
gateway with GRAPHIQL_ENABLED, each a process on a free loopback port; and where the
browser and the artifacts are."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://id.browser.test/"
AUDIENCE = "fintech-gateway"
INVOICING_TOKEN = "browser-invoicing-token"
PAYMENTS_TOKEN = "browser-payments-token"
DEMO_SUBJECT = "demo_owner_in_the_browser"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Stack:
    production_url: str
    development_url: str
    signing_key: rsa.RSAPrivateKey


def chromium_path() -> str:
    """Debian's Chromium (or CHROMIUM_PATH); a skip without one, a failure in CI."""
    configured = os.environ.get("CHROMIUM_PATH")
    found = configured or shutil.which("chromium") or shutil.which("chromium-browser")
    if found and Path(found).is_file():
        return found
    reason = "no Chromium: install Debian's `chromium` package (.ci/run does) or set CHROMIUM_PATH"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def artifacts_dir() -> Path:
    """TEST_ARTIFACTS_DIR, or var/artifacts in the work tree (git-ignored)."""
    path = Path(os.environ.get("TEST_ARTIFACTS_DIR") or ROOT / "var" / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path
