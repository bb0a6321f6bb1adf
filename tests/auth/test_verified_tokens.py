"""The verifier keeps accepted tokens' claims (app/auth/verified.py) and skips only their
signature check: a token it would refuse now is refused with the cache too, for the same
reason, however often it was accepted before."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import app.auth.verifier
from app.auth.errors import AuthenticationError
from app.auth.jwks import JwksCache
from app.auth.verified import VerifiedTokens
from app.auth.verifier import JwtConfig, JwtVerifier
from tests.auth.fakes import FakeClock, FakeIdp
from tests.auth.tokens import (
    AUDIENCE,
    ISSUER,
    JWKS_URL,
    NOW,
    RSA_KID,
    claims,
    rs256_token,
    rsa_jwk,
)


class CountingJws:
    """The verifier's signature checker, counting the checks it makes."""

    def __init__(self) -> None:
        self.checks = 0
        self._jws = app.auth.verifier._JWS

    def decode_complete(self, *args: Any, **kwargs: Any) -> Any:
        self.checks += 1
        return self._jws.decode_complete(*args, **kwargs)


@pytest.fixture
def jws(monkeypatch: pytest.MonkeyPatch) -> CountingJws:
    counting = CountingJws()
    monkeypatch.setattr(app.auth.verifier, "_JWS", counting)
    return counting


async def test_a_token_seen_before_is_not_checked_again(
    verifier: JwtVerifier, jws: CountingJws, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = rs256_token(rsa_key, claims())

    first = await verifier.verify(token)
    again = await verifier.verify(token)

    assert first == again
    assert jws.checks == 1


async def test_without_the_cache_every_verify_checks_the_signature(
    jwks: JwksCache, clock: FakeClock, jws: CountingJws, rsa_key: rsa.RSAPrivateKey
) -> None:
    config = JwtConfig(issuer=ISSUER, audience=AUDIENCE, jwks_url=JWKS_URL)
    verifier = JwtVerifier(config, jwks, clock=clock, verified_tokens=0)
    token = rs256_token(rsa_key, claims())

    await verifier.verify(token)
    await verifier.verify(token)

    assert jws.checks == 2


async def test_a_kept_token_past_its_expiry_and_leeway_is_refused(
    verifier: JwtVerifier, clock: FakeClock, rsa_key: rsa.RSAPrivateKey
) -> None:
    # given a token expiring in an hour, accepted and kept, and accepted again just
    # before its expiry plus the 30 s leeway
    token = rs256_token(rsa_key, claims(exp=NOW + 3600))
    await verifier.verify(token)
    clock.advance(3600 + 29)
    assert (await verifier.verify(token)).subject == "user_123"

    # when the leeway has passed too
    clock.advance(2)

    # then it is refused, and stays refused
    for _ in range(2):
        with pytest.raises(AuthenticationError, match="expired"):
            await verifier.verify(token)


async def test_a_token_not_yet_valid_is_refused_until_its_nbf_and_then_accepted(
    verifier: JwtVerifier, clock: FakeClock, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = rs256_token(rsa_key, claims(nbf=NOW + 100))
    with pytest.raises(AuthenticationError, match="not_yet_valid"):
        await verifier.verify(token)

    clock.advance(100 - 30)  # nbf within the leeway

    assert (await verifier.verify(token)).subject == "user_123"


async def test_a_kept_token_whose_key_was_withdrawn_is_refused(
    verifier: JwtVerifier,
    idp: FakeIdp,
    clock: FakeClock,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
) -> None:
    # given a token accepted (and kept) under the first key
    token = rs256_token(rsa_key, claims())
    await verifier.verify(token)

    # when the identity provider withdraws that key and the JWKS is refreshed
    idp.document = {"keys": [rsa_jwk(other_rsa_key, "rsa-2")]}
    clock.advance(600)

    # then the kept token is refused as a fresh one would be
    with pytest.raises(AuthenticationError, match="unknown_kid"):
        await verifier.verify(token)


async def test_a_kept_token_whose_kid_now_names_another_key_is_checked_again_and_refused(
    verifier: JwtVerifier,
    idp: FakeIdp,
    clock: FakeClock,
    jws: CountingJws,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
) -> None:
    token = rs256_token(rsa_key, claims())
    await verifier.verify(token)

    # when the kid is reused for another key
    idp.document = {"keys": [rsa_jwk(other_rsa_key, RSA_KID)]}
    clock.advance(600)

    with pytest.raises(AuthenticationError, match="bad_signature"):
        await verifier.verify(token)
    assert jws.checks == 2


async def test_a_refused_token_is_never_kept(
    verifier: JwtVerifier, jws: CountingJws, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = rs256_token(rsa_key, claims(aud="someone-else"))
    for _ in range(2):
        with pytest.raises(AuthenticationError, match="bad_audience"):
            await verifier.verify(token)

    assert jws.checks == 2


def test_the_cache_is_bounded_and_drops_its_oldest_first() -> None:
    kept = VerifiedTokens(size=2)
    key = object()
    for token in ("a", "b", "c"):
        kept.keep(token, key, {"sub": token})

    assert len(kept) == 2
    assert kept.claims("a", key) is None
    assert kept.claims("c", key) == {"sub": "c"}


def test_a_kept_token_under_another_key_is_forgotten() -> None:
    kept = VerifiedTokens(size=2)
    kept.keep("a", object(), {"sub": "a"})

    assert kept.claims("a", object()) is None
    assert len(kept) == 0


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        VerifiedTokens(size=-1)
