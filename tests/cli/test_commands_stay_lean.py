"""`python -m app migrate` is the production release job: it must not load the GraphQL
layer (every resolver, type and service module) that only `schema` and `manifest` need."""

from __future__ import annotations

import subprocess
import sys


def test_the_command_line_loads_no_graphql_until_a_command_needs_it() -> None:
    probe = (
        "import sys, app.cli; "
        "print(sorted(m for m in ('strawberry', 'app.schema.build') if m in sys.modules))"
    )
    loaded = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert loaded == "[]"
