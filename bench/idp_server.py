"""The identity provider for a benchmark run: the JWKS of the run's own signing key."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from sandbox.devkeys import load_or_create_private_key
from sandbox.idp import create_idp_app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.idp_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", type=Path, required=True)
    args = parser.parse_args(argv)
    app = create_idp_app(load_or_create_private_key(args.key))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
