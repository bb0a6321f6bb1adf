"""Regions without the HTTP stack: settings, one engine per distinct URL (the default is
one database, one set of workers, as before), the jurisdiction cache, the placement's
refusals, and `python -m app migrate` over each region's database."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError

from app.auth.principal import Principal, Role
from app.cli import main
from app.core.settings import DatabaseSettings, SettingsError, load_database_settings
from app.mutations.outcomes import Outcome, ProblemCode
from app.mutations.placement import Placement
from app.reads.service import ReadService
from app.residency.jurisdictions import Jurisdictions
from app.residency.regions import Regions, is_unreachable, open_regions
from app.wiring.background import running_background
from app.wiring.live import running_live
from app.wiring.resources import open_resources
from tests.mutations.conftest import saga_settings


def sqlite(tmp_path: Path, name: str) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / name}.db"


def test_both_unset_means_database_url_for_both() -> None:
    settings = DatabaseSettings(database_url="sqlite+aiosqlite:///x.db")
    assert settings.regional_database_urls() == {
        "GB": "sqlite+aiosqlite:///x.db",
        "IN": "sqlite+aiosqlite:///x.db",
    }


def test_a_regional_url_of_an_unsupported_driver_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL_IN", "mysql://db/in")
    with pytest.raises(SettingsError, match="DATABASE_URL_IN: must start with one of"):
        load_database_settings()


async def test_jurisdictions_on_one_url_share_one_engine_and_one_set_of_workers(
    tmp_path: Path,
) -> None:
    # given the default: neither regional URL set
    settings = saga_settings(sqlite(tmp_path, "one"), app_env="development")
    async with open_resources(settings) as resources, running_background(resources) as workers:
        # then one region (both jurisdictions), one engine, one set of workers
        (region,) = resources.regions.all
        assert region.name == "GB+IN"
        assert resources.regions.of("IN") is resources.regions.of("GB") is region
        assert [w.region for w in workers] == [region]
        async with running_live(resources) as live:
            assert len(live.feeds) == 1


async def test_each_distinct_url_gets_its_engine_and_its_workers(tmp_path: Path) -> None:
    settings = saga_settings(
        sqlite(tmp_path, "default"),
        app_env="development",
        database_url_gb=sqlite(tmp_path, "gb"),
        database_url_in=sqlite(tmp_path, "in"),
    )
    async with (
        open_resources(settings) as resources,
        running_background(resources) as workers,
        running_live(resources) as live,
    ):
        assert [r.name for r in resources.regions.all] == ["GB", "IN"]
        assert [w.region.name for w in workers] == ["GB", "IN"]
        assert resources.regions.single is None
        # each region's domain_events polled by its own feed (no AMQP_URL)
        assert len(live.feeds) == 2
    # DATABASE_URL itself was never opened: nothing of anybody's is kept there
    assert not (tmp_path / "default.db").exists()


def test_the_jurisdiction_cache_is_bounded_least_recently_used_out() -> None:
    known = Jurisdictions(max_entries=2)
    known.remember("biz_a", "GB")
    known.remember("biz_b", "IN")
    assert known.get("biz_a") == "GB"  # a is now the most recently used
    known.remember("biz_c", "GB")
    assert (len(known), known.get("biz_b"), known.get("biz_a")) == (2, None, "GB")


class Reads:
    """The reads a placement makes: businesses of the given countries."""

    def __init__(self, countries: dict[str, str]) -> None:
        self.countries = countries
        self.asked: list[str] = []

    async def business(self, business_id: str) -> Any:
        self.asked.append(business_id)
        country = self.countries.get(business_id)
        return None if country is None else SimpleNamespace(id=business_id, country=country)


async def test_a_business_of_a_country_without_records_is_refused_not_guessed(
    tmp_path: Path,
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        # given records kept for the UK only
        gb_only = await open_regions({"GB": sqlite(tmp_path, "gb")}, stack, migrate_now=True)
        reads = Reads({"biz_in": "IN", "biz_gb": "GB"})
        principal = Principal("iss", "user", {"biz_in": Role.OWNER, "biz_gb": Role.OWNER})
        placement = Placement(principal, cast(ReadService, reads), gb_only, Jurisdictions())
        # when an Indian business's mutation is placed
        refused = await placement.region_of("biz_in", "businessId")
        # then it is refused as a contract breach: nothing claimed anywhere
        assert isinstance(refused, Outcome)
        assert [p.code for p in refused.problems] == [ProblemCode.DOWNSTREAM_INVALID_RESPONSE]
        # and a UK one is placed, its country asked once and remembered
        assert await placement.region_of("biz_gb", "businessId") is gb_only.of("GB")
        assert await placement.region_of("biz_gb", "businessId") is gb_only.of("GB")
        assert reads.asked == ["biz_in", "biz_gb"]
        # and a business the invoicing service does not know is not found, on the field
        missing = await placement.region_of("biz_none", "businessId")
        assert isinstance(missing, Outcome)
        assert [(p.code, p.field) for p in missing.problems] == [
            (ProblemCode.NOT_FOUND, ("input", "businessId"))
        ]


def test_migrate_brings_each_region_s_database_to_the_newest_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite(tmp_path, "default"))
    monkeypatch.setenv("DATABASE_URL_GB", sqlite(tmp_path, "gb"))
    monkeypatch.setenv("DATABASE_URL_IN", sqlite(tmp_path, "in"))

    assert main(["migrate"]) == 0

    printed = capsys.readouterr().out.splitlines()
    assert [line.rsplit(" ", 1)[0] for line in printed] == [
        "database schema of region GB at revision",
        "database schema of region IN at revision",
    ]
    assert not (tmp_path / "default.db").exists()


async def test_migrated_regions_have_every_money_table(tmp_path: Path) -> None:
    async with contextlib.AsyncExitStack() as stack:
        urls = {"GB": sqlite(tmp_path, "gb"), "IN": sqlite(tmp_path, "in")}
        regions: Regions = await open_regions(urls, stack, migrate_now=True)
        for region in regions.all:
            async with region.engine.connect() as connection:
                tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
            assert {"idempotency_keys", "outbox", "payment_watch", "domain_events"} <= set(tables)


class _RestartingServerError(Exception):
    """What asyncpg raises while a server restarts, as SQLAlchemy sees it: a generic
    driver error carrying only its SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "unreachable"),
    [
        ("57P01", True),  # terminating connection due to administrator command
        ("57P03", True),  # the database system is starting up
        ("08006", True),  # connection failure
        ("53300", True),  # too many connections
        ("23505", False),  # a unique violation is a refused statement, not an outage
        ("42P01", False),
    ],
)
def test_a_restarting_server_is_told_from_a_refused_statement(
    sqlstate: str, unreachable: bool
) -> None:
    error = DBAPIError("SELECT 1", None, _RestartingServerError(sqlstate))
    assert is_unreachable(error) is unreachable
