"""Which jurisdictions share a database: the one decision `python -m app migrate` needs,
kept apart from the stores so that the release job imports none of them."""

from __future__ import annotations


def group_by_url(urls: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """Distinct URL -> the jurisdictions on it, in a stable order (GB, IN)."""
    grouped: dict[str, tuple[str, ...]] = {}
    for jurisdiction in sorted(urls):
        url = urls[jurisdiction]
        grouped[url] = (*grouped.get(url, ()), jurisdiction)
    return grouped
