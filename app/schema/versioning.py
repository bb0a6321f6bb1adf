"""The public schema as a versioned product.

Its SDL is committed as `app/schema/schema.graphql`, the version the web and mobile apps and
partners generate their types from. `python -m app schema --write` (`make schema`)
records the code's schema there, and refuses when that would break the committed version
(graphql-core's `find_breaking_changes`) unless every break is listed in the reviewed
`app/schema/breaking-changes.acknowledged`. Fields are retired with `@deprecated(reason:)`,
never removed without that review.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from graphql import GraphQLError, find_breaking_changes
from graphql import build_schema as build_sdl_schema

from app.schema.build import build_schema

SCHEMA_FILE = Path("app/schema/schema.graphql")
ACKNOWLEDGED_FILE = Path("app/schema/breaking-changes.acknowledged")


def current_sdl() -> str:
    """The code's schema as SDL, exactly as committed."""
    return build_schema().as_str().rstrip("\n") + "\n"


def breaking_changes(committed_sdl: str, new_sdl: str) -> list[str]:
    """Each way `new_sdl` breaks a client of `committed_sdl`, as `TYPE: description`."""
    changes = find_breaking_changes(build_sdl_schema(committed_sdl), build_sdl_schema(new_sdl))
    return [f"{change.type.name}: {change.description}" for change in changes]


def acknowledged(text: str) -> set[str]:
    """The breaks listed in an acknowledgement file: one a line; `#` starts a comment."""
    lines = (line.strip() for line in text.splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def drift(committed_sdl: str, new_sdl: str) -> list[str]:
    """A unified diff from the committed SDL to the code's; empty when they agree."""
    return list(
        difflib.unified_diff(
            committed_sdl.splitlines(),
            new_sdl.splitlines(),
            fromfile=str(SCHEMA_FILE),
            tofile="the code's schema",
            lineterm="",
        )
    )


@dataclass(frozen=True)
class Review:
    """How the code's schema compares with the committed one."""

    diff: list[str]
    unacknowledged: list[str]
    invalid: str | None = None

    @property
    def refusals(self) -> list[str]:
        """Why the code's schema may not be recorded as it is."""
        if self.invalid is not None:
            return [self.invalid]
        return [f"breaking change not acknowledged: {change}" for change in self.unacknowledged]

    @property
    def problems(self) -> list[str]:
        drifted = [f"{SCHEMA_FILE} is not the code's schema; run `make schema`"]
        return self.refusals + (drifted if self.diff else [])


def review(committed_sdl: str, new_sdl: str, acknowledgements: str) -> Review:
    diff = drift(committed_sdl, new_sdl)
    try:
        breaks = breaking_changes(committed_sdl, new_sdl)
    except GraphQLError as exc:
        # No baseline to compare with: nothing may be recorded over it unreviewed.
        invalid = f"{SCHEMA_FILE} is not valid SDL (restore it from git): {exc.message}"
        return Review(diff=diff, unacknowledged=[], invalid=invalid)
    allowed = acknowledged(acknowledgements)
    return Review(diff=diff, unacknowledged=[change for change in breaks if change not in allowed])


def write_schema(root: Path) -> list[str]:
    """Records the code's schema under `root`; or, refusing, says why."""
    schema_file, acknowledged_file = root / SCHEMA_FILE, root / ACKNOWLEDGED_FILE
    new_sdl = current_sdl()
    if schema_file.exists():
        acknowledgements = acknowledged_file.read_text() if acknowledged_file.exists() else ""
        refused = review(schema_file.read_text(), new_sdl, acknowledgements).refusals
        if refused:
            return refused
    schema_file.write_text(new_sdl)
    return []


def check_schema(root: Path) -> list[str]:
    """What is wrong with the committed schema under `root`; empty when all is well."""
    schema_file, acknowledged_file = root / SCHEMA_FILE, root / ACKNOWLEDGED_FILE
    if not schema_file.exists():
        return [f"{SCHEMA_FILE} is missing; run `make schema`"]
    acknowledgements = acknowledged_file.read_text() if acknowledged_file.exists() else ""
    return review(schema_file.read_text(), current_sdl(), acknowledgements).problems
