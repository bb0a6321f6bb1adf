"""Why a request could not be authenticated.

The `reason` is a short machine string for logs and metrics only. Clients always get
the same generic answer, so that probing cannot tell which check a forged token failed.
"""

from __future__ import annotations


class AuthenticationError(Exception):
    """The caller's credentials are missing or invalid: answered with 401."""

    def __init__(self, reason: str) -> None:
        # The message is the reason alone: never the token, which is a live credential.
        super().__init__(reason)
        self.reason = reason


class JwksUnavailableError(Exception):
    """The identity provider's keys cannot be fetched and none are cached.

    Answered with 503 rather than 401: the token may well be valid, and a 401 would make
    clients discard it and force their users to sign in again.
    """

    def __init__(self, reason: str = "jwks_unavailable") -> None:
        super().__init__(reason)
        self.reason = reason
