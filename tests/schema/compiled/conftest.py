"""The in-process gateway and sandbox fixtures of tests/e2e/conftest.py, for the
differential tests here."""

from tests.e2e.conftest import (  # noqa: F401 - fixtures
    downstreams,
    gateway_factory,
    signing_key,
    token_for,
)
