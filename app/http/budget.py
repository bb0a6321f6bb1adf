"""What a request cost and what is left of the caller's budget, on every answer, so that a
client can pace itself instead of learning its limit from a 429.

The fields are those of the IETF draft "RateLimit header fields for HTTP"
(draft-ietf-httpapi-ratelimit-headers), as Structured Field lists:

    RateLimit-Policy: "caller";q=1000;w=100
    RateLimit: "caller";r=988;t=2
    Request-Cost: 12

- the policy: a token bucket of `q` tokens, refilled in full in `w` seconds (the
  gateway's RATE_LIMIT_CAPACITY and RATE_LIMIT_REFILL_PER_SECOND; "address" for requests
  without a valid token, budgeted by client address);
- `r`: whole tokens left after this request; `t`: seconds until the bucket is full again
  (0 when it is full);
- `Request-Cost`: the tokens this request was charged (its GraphQL cost, at least 1, at
  most the bucket: app/schema/limits/cost.py). A refused request is charged nothing: its
  `Retry-After` says when a request of the same cost would run.

The draft's quota unit (`qu`) is left out: the only registered units are requests, bytes
and concurrency, and these tokens are cost points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from starlette.responses import Response

from app.ratelimit.limiter import Decision, Limit, clamp_weight

EXPOSED = ("RateLimit", "RateLimit-Policy", "Request-Cost")


@dataclass(frozen=True, slots=True)
class Charge:
    """A budget's decision about one request."""

    policy: str
    limit: Limit
    decision: Decision
    weight: int

    @property
    def charged(self) -> int:
        return clamp_weight(self.weight, self.limit) if self.decision.allowed else 0

    def headers(self) -> dict[str, str]:
        limit = self.limit
        remaining = max(0, min(limit.capacity, self.decision.remaining))
        window = math.ceil(limit.capacity / limit.refill_per_second)
        until_full = math.ceil((limit.capacity - remaining) / limit.refill_per_second)
        return {
            "RateLimit-Policy": f'"{self.policy}";q={limit.capacity};w={window}',
            "RateLimit": f'"{self.policy}";r={remaining};t={until_full}',
            "Request-Cost": str(self.charged),
        }

    def label(self, response: Response) -> Response:
        response.headers.update(self.headers())
        return response
