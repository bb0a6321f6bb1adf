"""`python -m app migrate` (schema to head) and `python -m app dev` (the `make run` stack)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from app.db import migrate
from app.db.engine import create_engine
from app.settings import SettingsError, load_database_settings


async def _migrate() -> str | None:
    settings = load_database_settings()
    engine = create_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
        return await migrate.current_revision(engine)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the database schema (safe to rerun)")
    commands.add_parser("dev", help="run sandbox services, identity provider and gateway")
    args = parser.parse_args(argv)
    try:
        if args.command == "migrate":
            revision = asyncio.run(_migrate())
            print(f"database schema at revision {revision}")
            return 0
        from app.devserver import run

        return run()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
