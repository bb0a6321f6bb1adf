"""Whatever arrives, verification ends in AuthenticationError, never in another exception."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.auth.errors import AuthenticationError
from app.auth.jwks import JwksCache
from app.auth.principal import Principal
from app.auth.verifier import JwtConfig, JwtVerifier
from tests.auth.tokens import AUDIENCE, DEV_SECRET, ISSUER, JWKS_URL, b64url, hs256

HS256_HEADER = b64url(b'{"alg":"HS256"}')
SEGMENT = st.from_regex(r"[A-Za-z0-9_-]{0,40}", fullmatch=True)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
HEADERS = st.fixed_dictionaries(
    {"alg": st.sampled_from(["RS256", "ES256", "HS256", "none", "RS512", "", None])},
    optional={"kid": st.one_of(st.text(max_size=8), st.integers()), "jku": st.text()},
)
CLAIMS = st.dictionaries(
    st.sampled_from(["iss", "aud", "sub", "exp", "iat", "nbf", "memberships", "scope"]),
    JSON,
)


def _jwks_handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"keys": []})


async def outcome(token: str, *, hs256_only: bool = False) -> Principal | AuthenticationError:
    """What verifying `token` gives: any other exception fails the test."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(_jwks_handler)) as client:
        if hs256_only:
            config = JwtConfig(
                issuer=ISSUER,
                audience=AUDIENCE,
                jwks_url=JWKS_URL,
                algorithms=("HS256",),
                dev_hs256_secret=DEV_SECRET,
            )
            verifier = JwtVerifier(config, None)
        else:
            config = JwtConfig(issuer=ISSUER, audience=AUDIENCE, jwks_url=JWKS_URL)
            verifier = JwtVerifier(config, JwksCache(client, JWKS_URL))
        try:
            return await verifier.verify(token)
        except AuthenticationError as error:
            return error


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300) | st.builds(lambda *s: ".".join(s), SEGMENT, SEGMENT, SEGMENT))
async def test_garbage_never_verifies(token: str) -> None:
    result = await outcome(token)

    assert isinstance(result, AuthenticationError)
    assert result.reason


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(HEADERS, CLAIMS)
async def test_arbitrary_header_and_claims_never_verify_unsigned(
    header: dict[str, Any], claims: dict[str, Any]
) -> None:
    token = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}.c2ln"

    assert isinstance(await outcome(token), AuthenticationError)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(CLAIMS)
async def test_arbitrary_signed_claims_fail_cleanly(claims: dict[str, Any]) -> None:
    # given correctly signed but arbitrary claims
    message = f"{HS256_HEADER}.{b64url(json.dumps(claims).encode())}"
    token = f"{message}.{hs256(DEV_SECRET.encode(), message)}"

    result = await outcome(token, hs256_only=True)

    # then they fail cleanly, unless they happen to be valid claims
    if isinstance(result, Principal):
        assert claims["iss"] == ISSUER
        assert result.subject == claims["sub"]
