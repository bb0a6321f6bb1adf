"""Claims of tokens whose signature was verified, so that a caller's next requests with
the same token skip the signature check and the payload's parsing: the RS256 check is
about 0.3 ms of CPU per request (bench/ab.py: variant `nojwtcache`).

Only what is a pure function of the token and the key is skipped. Each hit is accepted
only under the key the JWKS gives for the token's kid now (a rotation that withdraws or
replaces it sends the token through the full check again, which refuses it), and every
claim rule (issuer, audience, subject, exp, iat, nbf with the leeway, against the clock
now) runs again on the cached claims: a cached token is refused exactly when it would be
refused without the cache. Only accepted tokens are kept, keyed by the whole token
(never a hash or a prefix of it), at most `size` of them, the oldest dropped first.
"""

from __future__ import annotations

from typing import Any

DEFAULT_SIZE = 1024


class VerifiedTokens:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 0:
            raise ValueError("size must not be negative")
        self._size = size
        self._entries: dict[str, tuple[object, dict[str, Any]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def claims(self, token: str, key: object) -> dict[str, Any] | None:
        """The claims verified for `token` under `key`, or None (another key: forgotten)."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        verified_with, claims = entry
        if verified_with is not key and verified_with != key:
            del self._entries[token]
            return None
        return claims

    def keep(self, token: str, key: object, claims: dict[str, Any]) -> None:
        if self._size == 0:
            return
        if token not in self._entries and len(self._entries) >= self._size:
            del self._entries[next(iter(self._entries))]
        self._entries[token] = (key, claims)

    def forget(self, token: str) -> None:
        self._entries.pop(token, None)
