"""The 401 answer: JSON with UNAUTHENTICATED, and RFC 6750's `WWW-Authenticate` challenge.

A client needs to know what to do next: send a token, fix its header, or get a new token.
It must not learn which check a forged token failed, which would guide a forger. So in
production the description is a *class* of reason; the class "expired" or "not yet
valid" is only ever reached by a token whose signature verified (app/auth/verifier.py
checks the signature before any claim), so it tells a forger nothing. In development the
exact reason is given, to spare the developer a trip to the logs.

RFC 6750 §3: a request without credentials gets a challenge with no error code; a
malformed Authorization header is `invalid_request`; any other failure `invalid_token`.
(§3.1 would answer `invalid_request` with 400; 401 is kept so that every client treats
any authentication failure alike and retries with a token.) `error_description` is a
quoted-string limited to %x20-21 / %x23-5B / %x5D-7E: no quote, no backslash.
"""

from __future__ import annotations

from typing import NamedTuple

from starlette.responses import JSONResponse

REALM = "gateway"


class Explanation(NamedTuple):
    error: str | None  # RFC 6750 error code; None when no credentials were sent
    description: str


_MISSING = Explanation(None, "Authentication required: send Authorization: Bearer <token>.")
_MALFORMED_HEADER = Explanation(
    "invalid_request", "The Authorization header must be Bearer followed by one token."
)
_EXPIRED = Explanation("invalid_token", "The access token has expired; get a new one.")
_NOT_YET_VALID = Explanation(
    "invalid_token", "The access token is not valid yet; check the issuer's clock."
)
_INVALID = Explanation("invalid_token", "The access token is invalid; get a new one.")

_CLASS_OF_REASON = {
    "missing_token": _MISSING,
    "malformed_authorization": _MALFORMED_HEADER,
    "expired": _EXPIRED,
    "issued_in_future": _NOT_YET_VALID,
    "not_yet_valid": _NOT_YET_VALID,
}

# Development only: what exactly failed, for the reasons a developer meets.
_EXACT = {
    "token_too_long": "the token is longer than 8 KiB",
    "malformed": "the token is not a well-formed JWS compact serialization",
    "malformed_header": "the token's header is not a JSON object with a string kid",
    "malformed_payload": "the token's payload is not a JSON object",
    "missing_alg": "the token's header has no alg",
    "alg_none": "alg none is never accepted",
    "algorithm_not_allowed": "the token's alg is not one of JWT_ALGORITHMS",
    "missing_kid": "the token's header has no kid",
    "unknown_kid": "no key in the identity provider's JWKS has the token's kid",
    "key_alg_mismatch": "the key with the token's kid is not for its alg",
    "bad_key": "the key with the token's kid is unusable",
    "bad_signature": "the signature does not verify",
    "bad_issuer": "iss is not JWT_ISSUER",
    "bad_audience": "aud does not include JWT_AUDIENCE",
    "bad_subject": "sub is not printable ASCII of the allowed length",
    "expired": "exp has passed",
    "issued_in_future": "iat is in the future",
    "not_yet_valid": "nbf is in the future",
}


def explain(reason: str, *, exact: bool) -> Explanation:
    """What the client is told about failure `reason` (app/auth/errors.py)."""
    general = _CLASS_OF_REASON.get(reason, _INVALID)
    if not exact or general is not _INVALID:
        return general
    detail = _EXACT.get(reason)
    if detail is None and reason.startswith(("missing_claim:", "bad_claim:")):
        kind, _, claim = reason.partition(":")
        detail = f"the {claim} claim is {'missing' if kind == 'missing_claim' else 'invalid'}"
    if detail is None:
        return general
    return Explanation(general.error, f"{general.description.split(';')[0]}: {detail}.")


def challenge(explanation: Explanation) -> str:
    if explanation.error is None:
        return f'Bearer realm="{REALM}"'
    return (
        f'Bearer realm="{REALM}", error="{explanation.error}", '
        f'error_description="{explanation.description}"'
    )


def unauthenticated(reason: str, *, exact: bool) -> JSONResponse:
    explanation = explain(reason, exact=exact)
    return JSONResponse(
        {
            "errors": [
                {"message": explanation.description, "extensions": {"code": "UNAUTHENTICATED"}}
            ]
        },
        status_code=401,
        headers={"WWW-Authenticate": challenge(explanation)},
    )
