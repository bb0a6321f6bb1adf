"""The invoicing service's read endpoints, as typed calls."""

from __future__ import annotations

from collections.abc import Sequence

from app.clients.models import Business, ListEnvelope
from app.clients.service import ServiceClient

BATCH_LIMIT = 100


class InvoicingClient:
    def __init__(self, service: ServiceClient) -> None:
        self._service = service

    async def get_businesses(self, ids: Sequence[str]) -> list[Business]:
        found: list[Business] = []
        for start in range(0, len(ids), BATCH_LIMIT):
            chunk = ids[start : start + BATCH_LIMIT]
            page = await self._service.get(
                "/v1/businesses", {"ids": ",".join(chunk)}, ListEnvelope[Business]
            )
            asked = set(chunk)
            found.extend(item for item in page.data if item.id in asked)
        return found
