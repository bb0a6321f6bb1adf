"""The gateway's commands: `python -m app migrate` (database schema to head, in each
region's database: app/residency/), `python -m
app schema` (the public GraphQL schema's committed SDL), `python -m app manifest` (a
client's trusted documents, from its `.graphql` files) and `python -m app reconcile` (drift
between the payments and invoicing services, app/cli/reconcile.py). The `make run` stack
is development tooling and lives outside the package (`python -m sandbox.stack`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from app.cli import reconcile
from app.core.settings import SettingsError, load_database_settings
from app.db import migrate
from app.db.engine import create_engine
from app.persisted.manifest import ManifestError
from app.residency.databases import group_by_url


async def _migrate() -> dict[str, str | None]:
    """Region name (e.g. GB+IN, or GB and IN) -> the revision its database is now at."""
    settings = load_database_settings()
    revisions: dict[str, str | None] = {}
    for url, jurisdictions in group_by_url(settings.regional_database_urls()).items():
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
            revisions["+".join(jurisdictions)] = await migrate.current_revision(engine)
        finally:
            await engine.dispose()
    return revisions


def _manifest(output: Path, client: str, documents: list[Path]) -> int:
    # Imported here, as in _schema: they build the schema, which loads every resolver,
    # type and service module; `migrate`, the production release job, needs none of it.
    from app.cli.manifest import update_manifest

    try:
        count = update_manifest(output, client, documents)
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{output}: {count} documents for client {client}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the database schema (safe to rerun)")
    schema = commands.add_parser("schema", help="print, record or check the public GraphQL SDL")
    action = schema.add_mutually_exclusive_group()
    action.add_argument(
        "--write", action="store_true", help="record it as app/schema/schema.graphql (make schema)"
    )
    action.add_argument(
        "--check", action="store_true", help="fail unless app/schema/schema.graphql is the code's"
    )
    schema.add_argument("--root", type=Path, default=Path(), help="the repository (default: .)")
    manifest = commands.add_parser(
        "manifest", help="put a client's .graphql documents into a trusted-documents manifest"
    )
    manifest.add_argument("--client", required=True, help="client name, e.g. web or mobile")
    manifest.add_argument("-o", "--output", required=True, type=Path, help="manifest JSON file")
    manifest.add_argument("documents", nargs="+", type=Path, help=".graphql files")
    reconcile.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "reconcile":
            return reconcile.run(args)
        if args.command == "schema":
            return _schema(args.root, write=args.write, check=args.check)
        if args.command == "migrate":
            revisions = asyncio.run(_migrate())
            if len(revisions) == 1:
                print(f"database schema at revision {next(iter(revisions.values()))}")
            for region, revision in revisions.items() if len(revisions) > 1 else ():
                print(f"database schema of region {region} at revision {revision}")
            return 0
        return _manifest(args.output, args.client, args.documents)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _schema(root: Path, *, write: bool, check: bool) -> int:
    from app.schema import versioning

    if write:
        refused = versioning.write_schema(root)
        for reason in refused:
            print(reason, file=sys.stderr)
        if refused:
            where = versioning.ACKNOWLEDGED_FILE
            print(f"not written: review these, then list them in {where}", file=sys.stderr)
            return 1
        print(f"wrote {versioning.SCHEMA_FILE}")
        return 0
    if check:
        problems = versioning.check_schema(root)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    print(versioning.current_sdl(), end="")
    return 0
