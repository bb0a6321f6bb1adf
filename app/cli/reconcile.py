"""`python -m app reconcile`: the payments service's books against the invoicing
service's, per business (app/reconcile/). Only the standard library is imported here; the
work's modules are imported when the command runs."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

EXIT_NO_DRIFT = 0
EXIT_DRIFT = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
# A listing stops here whatever has_more says (app/reconcile/reader.py DEFAULT_MAX_PAGES).
DEFAULT_MAX_PAGES = 1000
_BUSINESS_ID = re.compile(r"biz_[A-Za-z0-9]{1,32}")

DESCRIPTION = """\
Compare, per business, the payments service's succeeded and pending payments with what
the invoicing service has recorded, and report the drift:

  succeeded_unrecorded    a succeeded payment (net of refunds) its invoice does not list
  recorded_not_succeeded  an invoice lists a payment that is pending, failed or unknown
  over_collected          an invoice's succeeded payments (net of refunds) exceed its total
  pending_too_long        a payment pending longer than PENDING_PAYMENT_ALERT_SECONDS

Each finding says whether the gateway owns the payment (it is in the payment_watch table).
Without --business, the businesses in the payment_watch table are reconciled (those the
gateway has taken pending payments for): the services' contracts have no way to list every
business. Settings come from the environment, as for the app."""

EPILOG = """\
--repair finishes only what the gateway itself started: a succeeded_unrecorded payment in
the payment_watch table that is not finished is moved on by the settler's own step
(recorded with the same derived Idempotency-Key, so it can never be recorded twice).
Payments the gateway did not take are reported, never touched.

exit status: 0 no drift; 1 drift found (with --repair: drift remaining after it);
2 bad settings or usage; 3 no drift found, but a business could not be read in full
(a service or the database failed, or --max-pages was reached)."""


def business_id(text: str) -> str:
    if not _BUSINESS_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a business id (biz_...)")
    return text


def page_cap(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1_000_000:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 1000000")
    return int(text)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "reconcile",
        help="report drift between the payments and invoicing services (and --repair ours)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--business",
        dest="businesses",
        action="append",
        type=business_id,
        default=[],
        metavar="ID",
        help="a business to reconcile (repeatable); default: those in the payment_watch table",
    )
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")
    parser.add_argument(
        "--repair",
        action="store_true",
        help="finish the gateway's own unrecorded succeeded payments (the settler's step)",
    )
    parser.add_argument(
        "--max-pages",
        type=page_cap,
        default=DEFAULT_MAX_PAGES,
        metavar="N",
        help=f"stop each listing after N pages of 100 (default {DEFAULT_MAX_PAGES})",
    )


def run(args: argparse.Namespace) -> int:
    return asyncio.run(execute(args))


async def execute(
    args: argparse.Namespace, *, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> int:
    """The command; `transports` is a test seam (in-process services), never set in
    production. SettingsError is left to the command line (exit status 2)."""
    from datetime import timedelta

    from sqlalchemy.exc import SQLAlchemyError

    from app.core.settings import load_settings
    from app.reconcile.opener import open_for_reconcile
    from app.reconcile.report import to_json, to_table
    from app.reconcile.runner import Reconciler, Reconciliation

    settings = load_settings()
    try:
        async with open_for_reconcile(settings, transports) as opened:
            named = list(dict.fromkeys(args.businesses))
            # Each region's businesses against its own payment_watch table (residency).
            placed = (
                await opened.place(named)
                if named
                else {region: await region.store.businesses() for region in opened.regions}
            )
            if not any(placed.values()):
                print(
                    "nothing to reconcile: no business in the payment_watch table "
                    "(name one with --business)",
                    file=sys.stderr,
                )
            result = Reconciliation(results=[])
            for region, businesses in placed.items():
                reconciler = Reconciler(
                    opened.sources,
                    region.store,
                    pending_limit=timedelta(seconds=settings.pending_payment_alert_seconds),
                    max_pages=args.max_pages,
                    settler=region.settler,
                )
                part = await reconciler.run(businesses, repair=args.repair)
                result.results.extend(part.results)
                result.repairs.extend(part.repairs)
    except (SQLAlchemyError, OSError) as exc:
        first_line = (str(exc).splitlines() or [""])[0]
        print(f"error: the database: {type(exc).__name__}: {first_line}", file=sys.stderr)
        return EXIT_INCOMPLETE
    print(to_json(result) if args.json else to_table(result), end="")
    if result.drift:
        return EXIT_DRIFT
    return EXIT_INCOMPLETE if result.incomplete else EXIT_NO_DRIFT
