from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.auth.jwks import JwksCache
from app.auth.verifier import JwtConfig, JwtVerifier
from tests.auth.fakes import FakeClock, FakeIdp, MakeVerifier
from tests.auth.tokens import AUDIENCE, EC_KID, ISSUER, JWKS_URL, NOW, RSA_KID, ec_jwk, rsa_jwk


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def idp(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> FakeIdp:
    return FakeIdp({"keys": [rsa_jwk(rsa_key, RSA_KID, alg="RS256"), ec_jwk(ec_key, EC_KID)]})


@pytest.fixture
async def http_client(idp: FakeIdp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(idp.handle)) as client:
        yield client


@pytest.fixture
def jwks(http_client: httpx.AsyncClient, clock: FakeClock) -> JwksCache:
    return JwksCache(http_client, JWKS_URL, clock=clock)


@pytest.fixture
def make_verifier(jwks: JwksCache, clock: FakeClock) -> MakeVerifier:
    """A verifier against the fake IdP; keyword arguments override JwtConfig fields."""

    def make(**overrides: Any) -> JwtVerifier:
        config = JwtConfig(
            **{"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": JWKS_URL, **overrides}
        )
        return JwtVerifier(config, jwks, clock=clock)

    return make


@pytest.fixture
def verifier(make_verifier: MakeVerifier) -> JwtVerifier:
    return make_verifier()
