"""Who the caller is and which businesses they belong to."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.clients.invoicing import InvoicingClient
from app.clients.models import Business
from auth.principal import Principal, Role

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MembershipView:
    role: Role
    business: Business


class ViewerService:
    def __init__(self, principal: Principal, invoicing: InvoicingClient) -> None:
        self._principal = principal
        self._invoicing = invoicing

    async def memberships(self) -> list[MembershipView]:
        """The token's memberships whose business exists, in the token's order.

        A membership naming a business the invoicing service does not know is left out
        rather than failing the whole viewer: the token may outlive a closed business.
        """
        ids = list(self._principal.memberships)
        if not ids:
            return []
        businesses = {
            business.id: business for business in await self._invoicing.get_businesses(ids)
        }
        missing = [business_id for business_id in ids if business_id not in businesses]
        if missing:
            logger.info(
                "memberships for unknown businesses left out", extra={"count": len(missing)}
            )
        return [
            MembershipView(
                role=self._principal.memberships[business_id], business=businesses[business_id]
            )
            for business_id in ids
            if business_id in businesses
        ]
