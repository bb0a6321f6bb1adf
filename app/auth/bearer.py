"""The `Authorization: Bearer <token>` header (RFC 6750 section 2.1)."""

from __future__ import annotations

import re

from app.auth.errors import AuthenticationError

# RFC 6750 `b64token`: it has no room for whitespace or commas, so a header that
# carries two credentials ("Bearer a, Bearer b") is refused rather than half-read.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*", re.ASCII)
# Optional whitespace around a field value (RFC 9110 section 5.5).
_OWS = " \t"


def extract_bearer_token(authorization: str | None) -> str:
    """Return the token of a `Bearer` Authorization header, or raise AuthenticationError."""
    if authorization is None or not authorization.strip(_OWS):
        raise AuthenticationError("missing_token")
    scheme, separator, token = authorization.strip(_OWS).partition(" ")
    if not separator or not scheme.isascii() or scheme.lower() != "bearer":
        raise AuthenticationError("malformed_authorization")
    if not _B64TOKEN.fullmatch(token):
        raise AuthenticationError("malformed_authorization")
    return token
