"""Which jurisdiction a business's records belong to: its `country` in the invoicing
service. A business never changes country, so the answer is kept for the process's
lifetime, bounded (least recently used out first) so that many businesses cannot grow it
without limit. Only admitted reads fill it (the caller's own businesses)."""

from __future__ import annotations

from collections import OrderedDict

MAX_ENTRIES = 100_000


class Jurisdictions:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max = max_entries
        self._known: OrderedDict[str, str] = OrderedDict()

    def get(self, business_id: str) -> str | None:
        country = self._known.get(business_id)
        if country is not None:
            self._known.move_to_end(business_id)
        return country

    def remember(self, business_id: str, country: str) -> None:
        self._known[business_id] = country
        self._known.move_to_end(business_id)
        while len(self._known) > self._max:
            self._known.popitem(last=False)

    def __len__(self) -> int:
        return len(self._known)
