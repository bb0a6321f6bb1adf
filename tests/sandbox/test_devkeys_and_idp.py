"""The development signing key, token minting, and the sandbox IdP serving its JWKS."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.auth.errors import AuthenticationError
from app.auth.jwks import JwksCache, b64url_decode
from app.auth.principal import Role
from app.auth.verifier import JwtConfig, JwtVerifier
from sandbox.devkeys import jwks_document, key_id, load_or_create_private_key, mint_token
from sandbox.idp import create_idp_app
from tests.auth.tokens import AUDIENCE, ISSUER

# The example RSA modulus of RFC 7638 section 3.1.
RFC_7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
    "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4v"
    "MQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
IDP_JWKS_URL = "http://idp.test/.well-known/jwks.json"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def idp_client(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_idp_app(rsa_key))
    async with httpx.AsyncClient(transport=transport, base_url="http://idp.test") as client:
        yield client


@pytest.fixture
def real_verifier(idp_client: httpx.AsyncClient) -> JwtVerifier:
    config = JwtConfig(issuer=ISSUER, audience=AUDIENCE, jwks_url=IDP_JWKS_URL)
    return JwtVerifier(config, JwksCache(idp_client, IDP_JWKS_URL))


async def test_a_minted_token_verifies_against_the_sandbox_idp(
    real_verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    # given a token minted with the dev key
    token = mint_token(
        rsa_key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="dev_user",
        memberships=[("biz_acme", Role.OWNER), ("biz_beta", Role.VIEWER)],
    )

    # when verified with the JWKS the sandbox IdP serves, on the real clock
    principal = await real_verifier.verify(token)

    # then it is the minted identity
    assert principal.subject == "dev_user"
    assert principal.memberships == {"biz_acme": Role.OWNER, "biz_beta": Role.VIEWER}
    assert principal.scopes is None


async def test_a_minted_partner_token_carries_its_scopes(
    real_verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = mint_token(
        rsa_key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="partner_app",
        memberships=[],
        scopes=["invoices:read", "payments:read"],
    )

    principal = await real_verifier.verify(token)

    assert principal.scopes == frozenset({"invoices:read", "payments:read"})
    assert principal.memberships == {}


async def test_a_minted_token_expires_after_its_ttl(
    real_verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = mint_token(
        rsa_key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="dev_user",
        memberships=[],
        ttl_seconds=60,
        now=1_000_000,
    )

    with pytest.raises(AuthenticationError, match="expired"):
        await real_verifier.verify(token)


async def test_the_idp_serves_the_jwks_with_a_cache_lifetime(
    idp_client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    response = await idp_client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.json() == jwks_document(rsa_key)
    (jwk,) = response.json()["keys"]
    assert jwk["kid"] == key_id(rsa_key.public_key())
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")
    # the public document carries no private member
    assert not {"d", "p", "q", "dp", "dq", "qi"} & jwk.keys()


async def test_the_idp_serves_nothing_else(idp_client: httpx.AsyncClient) -> None:
    assert (await idp_client.post("/.well-known/jwks.json")).status_code == 405
    assert (await idp_client.get("/token")).status_code == 404
    assert (await idp_client.get("/.well-known/openid-configuration")).status_code == 404


def test_key_id_is_the_rfc_7638_thumbprint() -> None:
    # given the example key of RFC 7638 section 3.1
    n = int.from_bytes(b64url_decode(RFC_7638_N), "big")
    public_key = rsa.RSAPublicNumbers(65537, n).public_key()

    # then its thumbprint is the one the RFC gives
    assert key_id(public_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_the_dev_key_is_created_private_and_then_reused(tmp_path: Path) -> None:
    # given no key file yet, in a directory that does not exist
    path = tmp_path / "var" / "dev" / "jwt.pem"

    # when it is loaded twice
    created = load_or_create_private_key(path)
    loaded = load_or_create_private_key(path)

    # then it was created readable by the owner only, and the same key comes back
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert created.key_size == 2048
    assert loaded.private_numbers() == created.private_numbers()
    assert [p.name for p in path.parent.iterdir()] == ["jwt.pem"]


def test_a_key_file_holding_another_key_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jwt.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    with pytest.raises(ValueError, match="RSA"):
        load_or_create_private_key(path)
