"""Shared by the rate-limit and persisted-query suites: documents, the exact refusal
bodies, and the downstream call log of both services."""

from __future__ import annotations

from typing import Any

from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.conftest import Downstreams

# One root field; reads the business from the invoicing service.
BUSINESS_QUERY = "query B($id: ID!) { business(id: $id) { id name } }"
BUSINESS_VARIABLES = {"id": GB_BUSINESS_ID}
# Three reads of a business, one downstream call each at worst: cost 3.
THREE_ROOTS = (
    f'{{ a: business(id: "{GB_BUSINESS_ID}") {{ id }} b: business(id: "{GB_BUSINESS_ID}") '
    f'{{ id }} c: business(id: "{GB_BUSINESS_ID}") {{ id }} }}'
)
# From the token alone: no downstream call, the minimum cost of 1.
VIEWER_QUERY = "{ viewer { id } }"


def rate_limited(seconds: int) -> dict[str, Any]:
    return {
        "errors": [
            {
                "message": f"Too many requests; retry in {seconds} seconds.",
                "extensions": {"code": "RATE_LIMITED", "retryAfterSeconds": seconds},
            }
        ]
    }


async def downstream_calls(downstreams: Downstreams) -> list[dict[str, Any]]:
    return await downstreams.calls("invoicing") + await downstreams.calls("payments")
