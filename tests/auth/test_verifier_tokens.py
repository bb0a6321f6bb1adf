"""The token itself: shape, header, algorithm and signature."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from app.auth.errors import AuthenticationError
from app.auth.principal import Principal, Role
from app.auth.verifier import JwtConfig, JwtVerifier
from tests.auth.fakes import FakeIdp, MakeVerifier
from tests.auth.tokens import (
    AUDIENCE,
    DEV_SECRET,
    EC_KID,
    ISSUER,
    JWKS_URL,
    NOW,
    RSA_KID,
    b64url,
    b64url_json,
    claims,
    es256_token,
    hs256,
    hs256_token,
    rs256,
    rs256_token,
    rsa_jwk,
    signing_input,
)

DUPLICATE_ALG_HEADER = b64url(b'{"alg":"RS256","alg":"RS256"}')


async def expect_reason(verifier: JwtVerifier, token: str, reason: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(token)
    assert caught.value.reason == reason
    assert token not in str(caught.value)


async def test_valid_rs256_token_gives_the_principal(
    verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    # given a token signed by the IdP's RSA key
    token = rs256_token(rsa_key, claims())

    # when it is verified
    principal = await verifier.verify(token)

    # then the caller is the token's subject with its memberships, first-party
    assert principal == Principal(
        issuer=ISSUER, subject="user_123", memberships={"biz_acme": Role.OWNER}, scopes=None
    )


async def test_valid_es256_token_gives_the_principal(
    verifier: JwtVerifier, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    token = es256_token(ec_key, claims(sub="user_ec"))

    principal = await verifier.verify(token)

    assert principal.subject == "user_ec"
    assert principal.memberships == {"biz_acme": Role.OWNER}


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize(
    ("signature", "reason"),
    [("", "malformed"), ("c2ln", "alg_none")],  # an empty signature fails the shape first
)
async def test_alg_none_is_rejected_in_every_casing(
    verifier: JwtVerifier, idp: FakeIdp, alg: str, signature: str, reason: str
) -> None:
    # given an unsigned token, with or without something in the signature slot
    token = f"{signing_input({'alg': alg, 'kid': RSA_KID}, claims())}.{signature}"

    # then it is refused before any key is looked up
    await expect_reason(verifier, token, reason)
    assert idp.requests == []


def test_alg_none_cannot_even_be_configured() -> None:
    with pytest.raises(ValueError, match="algorithms"):
        JwtConfig(issuer=ISSUER, audience=AUDIENCE, jwks_url=JWKS_URL, algorithms=("none",))


@pytest.fixture(scope="module")
def rsa_public_pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    return rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


async def test_hs256_signed_with_the_rsa_public_key_fails_in_production(
    verifier: JwtVerifier, rsa_public_pem: bytes
) -> None:
    # given the classic confusion attack: HMAC keyed with the published RSA key
    token = hs256_token(rsa_public_pem, claims(), kid=RSA_KID)

    await expect_reason(verifier, token, "algorithm_not_allowed")


async def test_hs256_signed_with_the_rsa_public_key_fails_in_development(
    make_verifier: MakeVerifier, rsa_public_pem: bytes
) -> None:
    # given a development verifier that does accept HS256, with its own secret
    verifier = make_verifier(algorithms=("RS256", "ES256", "HS256"), dev_hs256_secret=DEV_SECRET)
    token = hs256_token(rsa_public_pem, claims(), kid=RSA_KID)

    # then the RSA key is never used as the HMAC secret
    await expect_reason(verifier, token, "bad_signature")


async def test_hs256_with_the_dev_secret_is_accepted_when_configured(
    make_verifier: MakeVerifier,
) -> None:
    verifier = make_verifier(algorithms=("RS256", "HS256"), dev_hs256_secret=DEV_SECRET)
    token = hs256_token(DEV_SECRET.encode(), claims())

    principal = await verifier.verify(token)

    assert principal.subject == "user_123"


async def test_hs256_needs_both_the_algorithm_and_the_secret(
    make_verifier: MakeVerifier,
) -> None:
    token = hs256_token(DEV_SECRET.encode(), claims())

    # secret set but HS256 not among the algorithms (production default list)
    await expect_reason(make_verifier(dev_hs256_secret=DEV_SECRET), token, "algorithm_not_allowed")
    # HS256 listed but no secret
    await expect_reason(
        make_verifier(algorithms=("HS256", "RS256")), token, "algorithm_not_allowed"
    )


def test_a_short_dev_secret_is_refused_at_configuration() -> None:
    with pytest.raises(ValueError, match="dev_hs256_secret"):
        JwtConfig(
            issuer=ISSUER,
            audience=AUDIENCE,
            jwks_url=JWKS_URL,
            algorithms=("HS256",),
            dev_hs256_secret="short",
        )


def test_the_dev_secret_stays_out_of_the_config_repr() -> None:
    config = JwtConfig(
        issuer=ISSUER, audience=AUDIENCE, jwks_url=JWKS_URL, dev_hs256_secret=DEV_SECRET
    )
    assert DEV_SECRET not in repr(config)


def test_rs256_without_a_jwks_cache_is_a_configuration_error() -> None:
    config = JwtConfig(issuer=ISSUER, audience=AUDIENCE, jwks_url=JWKS_URL)
    with pytest.raises(ValueError, match="JwksCache"):
        JwtVerifier(config, None)


async def test_rs512_is_not_accepted(verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    message = signing_input({"alg": "RS512", "kid": RSA_KID}, claims())
    signature = rsa_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA512())
    token = f"{message}.{b64url(signature)}"

    await expect_reason(verifier, token, "algorithm_not_allowed")


async def test_es256_is_refused_when_only_rs256_is_configured(
    make_verifier: MakeVerifier, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    verifier = make_verifier(algorithms=("RS256",))

    await expect_reason(verifier, es256_token(ec_key, claims()), "algorithm_not_allowed")


async def test_es256_header_with_an_rsa_kid_is_a_key_mismatch(
    verifier: JwtVerifier, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    await expect_reason(verifier, es256_token(ec_key, claims(), kid=RSA_KID), "key_alg_mismatch")


async def test_rs256_header_with_an_ec_kid_is_a_key_mismatch(
    verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    await expect_reason(verifier, rs256_token(rsa_key, claims(), kid=EC_KID), "key_alg_mismatch")


async def test_a_jwk_whose_own_alg_differs_from_the_header_is_a_mismatch(
    verifier: JwtVerifier, idp: FakeIdp, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    # given an RSA key the IdP restricts to RS512
    idp.document["keys"].append(rsa_jwk(other_rsa_key, "rs512-only", alg="RS512"))

    token = rs256_token(other_rsa_key, claims(), kid="rs512-only")

    await expect_reason(verifier, token, "key_alg_mismatch")


async def test_a_token_without_kid_is_refused(
    verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    message = signing_input({"alg": "RS256"}, claims())

    await expect_reason(verifier, f"{message}.{rs256(rsa_key, message)}", "missing_kid")


async def test_an_unknown_kid_is_refused(verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    await expect_reason(verifier, rs256_token(rsa_key, claims(), kid="nope"), "unknown_kid")


async def test_a_tampered_payload_fails_the_signature(
    verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    # given a valid token whose payload is swapped for one with more privileges
    header, _, signature = rs256_token(rsa_key, claims()).split(".")
    forged = claims(memberships=[{"business_id": "biz_other", "role": "owner"}])
    token = f"{header}.{b64url_json(forged)}.{signature}"

    await expect_reason(verifier, token, "bad_signature")


async def test_a_token_signed_by_another_key_fails_the_signature(
    verifier: JwtVerifier, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    await expect_reason(verifier, rs256_token(other_rsa_key, claims()), "bad_signature")


@pytest.mark.parametrize("strip", ["signature", "signature and dot"])
async def test_a_stripped_signature_is_refused(
    verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey, strip: str
) -> None:
    header, payload, _ = rs256_token(rsa_key, claims()).split(".")
    token = f"{header}.{payload}." if strip == "signature" else f"{header}.{payload}"

    await expect_reason(verifier, token, "malformed")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c.d",
        "..",
        "a..c",
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln=",  # padding is not base64url
        "eyJhbGciOiJSUzI1NiJ9.e30.c2 ln",
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n",
        "éyJhbGciOiJSUzI1NiJ9.e30.c2ln",
        "a.e30.c2ln",  # header of one character cannot be base64url
        f"{b64url(b'not json')}.e30.c2ln",
        f"{b64url_json(['alg', 'RS256'])}.e30.c2ln",
        f"{DUPLICATE_ALG_HEADER}.e30.c2ln",
        f"{b64url_json({'kid': RSA_KID})}.e30.c2ln",
        f"{b64url_json({'alg': 256, 'kid': RSA_KID})}.e30.c2ln",
        f"{b64url_json({'alg': 'RS256', 'kid': 7})}.e30.c2ln",
    ],
)
async def test_garbage_is_refused(verifier: JwtVerifier, idp: FakeIdp, token: str) -> None:
    with pytest.raises(AuthenticationError):
        await verifier.verify(token)
    assert idp.requests == []


async def test_an_over_long_token_is_refused_before_parsing(
    verifier: JwtVerifier, idp: FakeIdp, rsa_key: rsa.RSAPrivateKey
) -> None:
    # given an otherwise valid token just over the limit
    token = rs256_token(rsa_key, claims(padding="x" * 8192))
    assert len(token) > 8192

    await expect_reason(verifier, token, "token_too_long")
    assert idp.requests == []


@pytest.mark.parametrize(
    "header",
    [
        {"jku": "https://evil.example/jwks.json"},
        {"x5u": "https://evil.example/cert.pem"},
        {"jku": "https://evil.example/jwks.json", "x5u": "https://evil.example/cert.pem"},
    ],
)
async def test_key_url_headers_are_never_fetched(
    verifier: JwtVerifier,
    idp: FakeIdp,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
    header: dict[str, str],
) -> None:
    # given an attacker's token pointing at the attacker's key set
    forged = rs256_token(other_rsa_key, claims(), **header)
    # and a genuine token carrying the same headers
    genuine = rs256_token(rsa_key, claims(), **header)

    await expect_reason(verifier, forged, "bad_signature")
    assert (await verifier.verify(genuine)).subject == "user_123"

    # then only the configured JWKS URL was ever requested
    assert {str(request.url) for request in idp.requests} == {JWKS_URL}


async def test_an_embedded_jwk_header_is_never_trusted(
    verifier: JwtVerifier, idp: FakeIdp, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    # given a token that carries its own (attacker's) public key, under a fresh kid
    embedded = rsa_jwk(other_rsa_key, "attacker")
    token = rs256_token(other_rsa_key, claims(), kid="attacker", jwk=embedded)

    await expect_reason(verifier, token, "unknown_kid")
    assert {str(request.url) for request in idp.requests} == {JWKS_URL}


async def test_an_embedded_jwk_header_with_a_known_kid_still_uses_the_jwks_key(
    verifier: JwtVerifier, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    embedded = rsa_jwk(other_rsa_key, RSA_KID)
    token = rs256_token(other_rsa_key, claims(), jwk=embedded, x5c=["MIIB"])

    await expect_reason(verifier, token, "bad_signature")


async def test_a_crit_header_pyjwt_does_not_understand_is_refused(
    verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    extension: dict[str, Any] = {"exp-policy": 1}
    token = rs256_token(rsa_key, claims(), crit=["exp-policy"], **extension)

    await expect_reason(verifier, token, "malformed")


async def test_an_es256_signature_in_der_form_is_refused(
    verifier: JwtVerifier, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    # JWS requires the raw r||s form; DER is a different encoding of the same signature
    message = signing_input({"alg": "ES256", "kid": EC_KID}, claims())
    der = ec_key.sign(message.encode(), ec.ECDSA(hashes.SHA256()))

    await expect_reason(verifier, f"{message}.{b64url(der)}", "bad_signature")


async def test_exception_messages_never_carry_the_token(
    verifier: JwtVerifier, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    token = rs256_token(other_rsa_key, claims(sub=secrets.token_hex(8)))

    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(token)

    rendered = f"{caught.value!s} {caught.value!r}"
    assert token not in rendered
    assert token.split(".")[1] not in rendered


async def test_a_payload_with_duplicate_claims_is_refused(
    make_verifier: MakeVerifier,
) -> None:
    # given a correctly signed payload naming `sub` twice
    verifier = make_verifier(algorithms=("HS256",), dev_hs256_secret=DEV_SECRET)
    raw = (
        f'{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"alice","sub":"bob",'
        f'"iat":{NOW - 60},"exp":{NOW + 3600}}}'
    )
    message = f"{b64url_json({'alg': 'HS256'})}.{b64url(raw.encode())}"
    token = f"{message}.{hs256(DEV_SECRET.encode(), message)}"

    await expect_reason(verifier, token, "malformed_payload")


async def test_a_payload_that_is_not_an_object_is_refused(make_verifier: MakeVerifier) -> None:
    verifier = make_verifier(algorithms=("HS256",), dev_hs256_secret=DEV_SECRET)
    message = f"{b64url_json({'alg': 'HS256'})}.{b64url_json(['not', 'claims'])}"
    token = f"{message}.{hs256(DEV_SECRET.encode(), message)}"

    await expect_reason(verifier, token, "malformed_payload")
