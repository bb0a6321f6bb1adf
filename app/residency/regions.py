"""A region: one database and the stores of money records kept in it, for the
jurisdictions whose businesses' records live there. Engines are opened once per distinct
URL (both jurisdictions on `DATABASE_URL` by default: one engine, as before)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import migrate
from app.db.engine import create_engine
from app.downstream.errors import DownstreamUnavailableError
from app.events.store import EventStore
from app.idempotency.store import IdempotencyStore
from app.outbox.store import OutboxStore
from app.residency.databases import group_by_url
from app.settlement.store import WatchStore

# The jurisdictions the gateway keeps records for (the invoicing contract's countries).
JURISDICTIONS = ("GB", "IN")
# The service name a region's unavailability is reported under (app/schema/error_policy.py).
RECORDS_SERVICE = "records"


class RegionUnavailableError(DownstreamUnavailableError):
    """The database holding a region's records cannot be reached: nothing was done."""

    def __init__(self, region: str, regions: Iterable[Region] = ()) -> None:
        super().__init__(RECORDS_SERVICE, f"region {region} database unreachable")
        self.region = region
        # Every region that could not answer (the placement refuses a subject in any).
        self.regions = tuple(regions)


# What a database that cannot be reached raises (asyncpg's refused connection surfaces as
# a bare OSError, a full pool as SQLAlchemy's own TimeoutError); is_unreachable tells
# them from a refused statement.
DATABASE_ERRORS = (OSError, TimeoutError, DBAPIError, PoolTimeoutError)

# SQLSTATE prefixes PostgreSQL answers with when it will not serve a connection:
# connection exceptions (08), credentials refused (28), insufficient resources (53: too
# many connections), operator intervention (57P: shutting down, cannot connect now), the
# database gone (3D000). asyncpg's errors reach SQLAlchemy as its generic Error, not
# marked invalidated, so only their SQLSTATE tells a region mid-restart from a bug.
_UNREACHABLE_SQLSTATES = ("08", "28", "53", "57P", "3D000")


def is_unreachable(exc: BaseException) -> bool:
    """A database that cannot be reached (refused, reset, timed out, not serving), as
    opposed to a statement it refused: only the first says "try again later, nothing
    was done"."""
    if isinstance(
        exc, OSError | TimeoutError | PoolTimeoutError | OperationalError | InterfaceError
    ):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_UNREACHABLE_SQLSTATES)


@dataclass(frozen=True, slots=True)
class Region:
    jurisdictions: tuple[str, ...]
    engine: AsyncEngine
    idempotency: IdempotencyStore
    outbox: OutboxStore
    watch: WatchStore
    events: EventStore

    @property
    def name(self) -> str:
        """What logs, metrics and /readyz call it: its jurisdictions, e.g. `IN` or `GB+IN`."""
        return "+".join(self.jurisdictions)


class UnsupportedJurisdictionError(LookupError):
    """A country the gateway keeps no records for: refused, never guessed."""


class Regions:
    def __init__(self, regions: Iterable[Region]) -> None:
        self._all = tuple(regions)
        self._of = {j: region for region in self._all for j in region.jurisdictions}

    @property
    def all(self) -> tuple[Region, ...]:
        return self._all

    @property
    def single(self) -> Region | None:
        """The one region when every jurisdiction shares a database (the default)."""
        return self._all[0] if len(self._all) == 1 else None

    def of(self, jurisdiction: str) -> Region:
        try:
            return self._of[jurisdiction]
        except KeyError:
            raise UnsupportedJurisdictionError(jurisdiction) from None


def build_region(
    jurisdictions: tuple[str, ...],
    engine: AsyncEngine,
    on_claim: Callable[[str], None] | None = None,
) -> Region:
    return Region(
        jurisdictions=jurisdictions,
        engine=engine,
        idempotency=IdempotencyStore(engine, on_claim=on_claim),
        outbox=OutboxStore(engine),
        watch=WatchStore(engine),
        events=EventStore(engine),
    )


async def open_regions(
    urls: dict[str, str],
    stack: AsyncExitStack,
    *,
    on_claim: Callable[[str], None] | None = None,
    migrate_now: bool = False,
) -> Regions:
    """One engine per distinct URL, disposed by `stack`. `migrate_now` (development)
    brings each to the newest schema; production runs `python -m app migrate`."""
    regions = []
    for url, jurisdictions in group_by_url(urls).items():
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        if migrate_now:
            await migrate.upgrade(engine)
        regions.append(build_region(jurisdictions, engine, on_claim))
    return Regions(regions)
