"""Query-string rules shared by every GET: id lists, exactly-one-of, limit and cursors."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

from starlette.requests import Request

from sandbox.common.errors import invalid

MAX_IDS = 100
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_LIMIT_RE = re.compile(r"[0-9]{1,6}")


def prefixed_id_re(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(prefix)}[A-Za-z0-9]{{1,32}}")


def single(request: Request, name: str) -> str | None:
    """A query parameter that may appear at most once."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise invalid(f"'{name}' may be given only once", name)
    return values[0] if values else None


def id_list(request: Request, name: str, *, required: bool = False) -> list[str] | None:
    """A comma-separated list of 1 to 100 ids, de-duplicated in order of appearance."""
    raw = single(request, name)
    if raw is None:
        if required:
            raise invalid(f"'{name}' is required", name)
        return None
    items = raw.split(",")
    if any(item == "" for item in items):
        raise invalid(f"'{name}' must be a comma-separated list of 1 to {MAX_IDS} ids", name)
    if len(items) > MAX_IDS:
        raise invalid(f"'{name}' takes at most {MAX_IDS} ids", name)
    return list(dict.fromkeys(items))


def exactly_one(request: Request, names: Sequence[str]) -> str:
    """The one selector parameter given, when exactly one of `names` is present."""
    given = [name for name in names if name in request.query_params]
    if len(given) != 1:
        choices = ", ".join(f"'{name}'" for name in names)
        raise invalid(f"Exactly one of {choices} must be given", given[1] if given else names[0])
    return given[0]


def reject(request: Request, names: Sequence[str], reason: str) -> None:
    """Refuse listing-only parameters where they would silently be ignored."""
    for name in names:
        if name in request.query_params:
            raise invalid(f"'{name}' {reason}", name)


def matching(request: Request, name: str, pattern: re.Pattern[str]) -> str | None:
    value = single(request, name)
    if value is not None and not pattern.fullmatch(value):
        raise invalid(f"'{name}' is not a valid id", name)
    return value


def choice(request: Request, name: str, allowed: Sequence[str]) -> str | None:
    value = single(request, name)
    if value is not None and value not in allowed:
        raise invalid(f"'{name}' must be one of {', '.join(allowed)}", name)
    return value


def limit(request: Request) -> int:
    raw = single(request, "limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not _LIMIT_RE.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid(f"'limit' must be an integer from 1 to {MAX_LIMIT}", "limit")
    return int(raw)


def by_ids(
    conn: sqlite3.Connection, table: str, column: str, ids: Sequence[str]
) -> list[sqlite3.Row]:
    """Rows whose `column` is one of `ids`; unknown ids are simply absent."""
    marks = ",".join("?" for _ in ids)
    # table and column come from code, never from the request; values are bound.
    sql = f"SELECT * FROM {table} WHERE {column} IN ({marks})"  # noqa: S608
    return list(conn.execute(sql, tuple(ids)))


def in_request_order(rows: Sequence[sqlite3.Row], ids: Sequence[str]) -> list[sqlite3.Row]:
    position = {object_id: index for index, object_id in enumerate(ids)}
    return sorted(rows, key=lambda row: position[row["id"]])


def newest_first(rows: Sequence[sqlite3.Row]) -> list[sqlite3.Row]:
    return sorted(rows, key=lambda row: (row["created_at"], row["id"]), reverse=True)


def page(
    conn: sqlite3.Connection,
    table: str,
    filters: Sequence[tuple[str, object]],
    starting_after: str | None,
    size: int,
) -> tuple[list[sqlite3.Row], bool]:
    """One page newest first, by (created_at desc, id desc), after the cursor object.

    The first filter scopes the listing (its business): a cursor outside it is refused
    rather than silently producing a page of another listing.
    """
    where = [f"{column} = ?" for column, _ in filters]
    params: list[object] = [value for _, value in filters]
    if starting_after is not None:
        scope_column, scope_value = filters[0]
        cursor = conn.execute(
            f"SELECT created_at, id FROM {table} WHERE id = ? AND {scope_column} = ?",  # noqa: S608
            (starting_after, scope_value),
        ).fetchone()
        if cursor is None:
            raise invalid(
                f"'starting_after' is not an object of this listing: '{starting_after}'",
                "starting_after",
            )
        where.append("(created_at < ? OR (created_at = ? AND id < ?))")
        params += [cursor["created_at"], cursor["created_at"], cursor["id"]]
    sql = (
        f"SELECT * FROM {table} WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY created_at DESC, id DESC LIMIT ?"
    )
    rows = list(conn.execute(sql, (*params, size + 1)))
    return rows[:size], len(rows) > size


def list_envelope(data: Sequence[object], has_more: bool = False) -> dict[str, object]:
    return {"object": "list", "data": list(data), "has_more": has_more}
