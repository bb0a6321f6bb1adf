"""The saga tests' in-process gateway (tests/mutations/conftest.py): a test that takes
`world_factory` runs on SQLite and on PostgreSQL."""

from tests.mutations.conftest import saga_key, world_factory

__all__ = ["saga_key", "world_factory"]
