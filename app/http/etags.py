"""Entity-tag comparison for If-None-Match (RFC 9110 13.1.2 and 13.1.2's weak comparison):
one rule for every conditional answer here (the SDL, GraphiQL's assets, persisted
queries by GET). Weak comparison because a tag may have been weakened on the way (the
compression middleware weakens a strong tag on the gzip copy it makes)."""

from __future__ import annotations


def none_match(if_none_match: str | None, etag: str) -> bool:
    """Whether `If-None-Match` names `etag` (or is `*`): the client has it already."""
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags
