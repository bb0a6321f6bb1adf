"""Run one sandbox service: python -m sandbox {invoicing,payments} --port N --token T."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from sandbox.common.faults import FaultConfig
from sandbox.invoicing import create_invoicing_app
from sandbox.payments import create_payments_app

DEFAULT_PORTS = {"invoicing": 8101, "payments": 8102}


@dataclass(frozen=True)
class Options:
    service: str
    host: str
    port: int
    token: str
    db: str
    latency_ms: int


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("service", choices=sorted(DEFAULT_PORTS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="default 8101 invoicing, 8102 payments")
    parser.add_argument("--token", required=True, help="the service token callers must send")
    parser.add_argument("--db", default=":memory:", help="SQLite file, recreated on start")
    parser.add_argument("--latency-ms", type=_non_negative, default=0)
    args = parser.parse_args(argv)
    return Options(
        service=args.service,
        host=args.host,
        port=args.port if args.port is not None else DEFAULT_PORTS[args.service],
        token=args.token,
        db=args.db,
        latency_ms=args.latency_ms,
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
    return factory(token=options.token, db_path=options.db, faults=faults, seed=True)


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_args(argv)
    app = build_app(options)
    print(f"{options.service} sandbox on http://{options.host}:{options.port}", flush=True)
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning", reload=False)


if __name__ == "__main__":
    main()
