"""Run one sandbox service, or settle a pending payment of a running payments sandbox.

python -m sandbox {invoicing,payments} --token T [--port N] [--db FILE]
    [--latency-ms MS] [--no-admin] [--variant NAME[=VALUE][,...]]...
python -m sandbox settle PAYMENT_ID {succeeded,failed} [--failure-code CODE]
    [--url URL] [--token T]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette

from app.core.settings import SANDBOX_PAYMENTS_TOKEN
from sandbox.common.faults import FaultConfig
from sandbox.common.variants import Variant, VariantBody
from sandbox.invoicing import create_invoicing_app
from sandbox.payments import create_payments_app
from sandbox.payments.admin import DEFAULT_FAILURE_CODE
from sandbox.payments.settle_client import SettleError, describe, settle_remote

DEFAULT_PORTS = {"invoicing": 8101, "payments": 8102}
VARIANT_NAMES = tuple(f.name for f in fields(Variant))


@dataclass(frozen=True)
class Options:
    service: str
    host: str
    port: int
    token: str
    db: str
    latency_ms: int
    admin: bool = True
    variant: Variant = field(default_factory=Variant)


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _variant_items(text: str) -> list[tuple[str, str | None]]:
    """`omit_nulls,batch_order=shuffled` -> [("omit_nulls", None), ("batch_order", ...)]."""
    items: list[tuple[str, str | None]] = []
    for item in filter(None, text.split(",")):
        name, sep, value = item.partition("=")
        if name not in VARIANT_NAMES:
            raise argparse.ArgumentTypeError(f"unknown variant {name!r}; one of {VARIANT_NAMES}")
        items.append((name, value if sep else None))
    return items


def variant_of(items: Sequence[tuple[str, str | None]]) -> Variant:
    """The variant named on the command line: a bare name switches a flag on."""
    values: dict[str, object] = {}
    for name, value in items:
        if value is None:
            values[name] = True
        elif value in ("true", "false"):
            values[name] = value == "true"
        else:
            values[name] = value
    try:
        return VariantBody.model_validate(values).to_variant()
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise ValueError(f"--variant {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("service", choices=sorted(DEFAULT_PORTS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="default 8101 invoicing, 8102 payments")
    parser.add_argument("--token", required=True, help="the service token callers must send")
    parser.add_argument("--db", default=":memory:", help="SQLite file, recreated on start")
    parser.add_argument("--latency-ms", type=_non_negative, default=0)
    parser.add_argument(
        "--admin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve the token-protected /_sandbox/ surface (faults, variant, calls, reset, "
        "settling payments); --no-admin answers 404 there",
    )
    parser.add_argument(
        "--variant",
        type=_variant_items,
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="answer as another implementation of the contract would (sandbox/common/"
        "variants.py): batch_order=reversed|shuffled, omit_nulls, offset_timestamps, "
        "short_pages, extra_fields; repeat or separate with commas",
    )
    args = parser.parse_args(argv)
    try:
        variant = variant_of([item for group in args.variant for item in group])
    except ValueError as exc:
        parser.error(str(exc))
    return Options(
        service=args.service,
        host=args.host,
        port=args.port if args.port is not None else DEFAULT_PORTS[args.service],
        token=args.token,
        db=args.db,
        latency_ms=args.latency_ms,
        admin=args.admin,
        variant=variant,
    )


def build_app(options: Options) -> Starlette:
    """The app for `options`, its database file (if any) recreated from the seed."""
    if options.db != ":memory:":
        # Demos must be deterministic: nothing survives from an earlier run.
        for suffix in ("", "-journal", "-wal", "-shm"):
            if os.path.exists(options.db + suffix):
                os.remove(options.db + suffix)
    faults = FaultConfig(latency_ms=options.latency_ms)
    factory = create_invoicing_app if options.service == "invoicing" else create_payments_app
    return factory(
        token=options.token,
        db_path=options.db,
        faults=faults,
        seed=True,
        admin=options.admin,
        variant=options.variant,
    )


def settle_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox settle",
        description="Settle a pending payment (a bank transfer) of a running payments "
        "sandbox, as the bank would: its balance moves from pending to available "
        "(succeeded) or leaves pending (failed).",
    )
    parser.add_argument("payment_id", help="a pending payment, e.g. from payInvoice")
    parser.add_argument("status", choices=["succeeded", "failed"])
    parser.add_argument(
        "--failure-code",
        choices=["insufficient_funds", "card_declined"],
        help=f"with failed only (default {DEFAULT_FAILURE_CODE})",
    )
    parser.add_argument(
        "--url",
        default=f"http://127.0.0.1:{DEFAULT_PORTS['payments']}",
        help="the payments sandbox (default: the one `make run` starts)",
    )
    parser.add_argument(
        "--token",
        default=SANDBOX_PAYMENTS_TOKEN,
        help="its service token (default: the one `make run` gives it)",
    )
    args = parser.parse_args(argv)
    if args.failure_code is not None and args.status != "failed":
        parser.error("--failure-code goes with failed only")
    try:
        payment = settle_remote(
            args.url, args.token, args.payment_id, args.status, args.failure_code
        )
    except SettleError as exc:
        print(f"error: {args.payment_id} not settled: {exc}", file=sys.stderr)
        return 1
    print(describe(payment), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["settle"]:
        return settle_main(arguments[1:])
    options = parse_args(arguments)
    app = build_app(options)
    print(f"{options.service} sandbox on http://{options.host}:{options.port}", flush=True)
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning", reload=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
