"""Fetching, caching and refreshing the identity provider's keys."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.auth.errors import AuthenticationError, JwksUnavailableError
from app.auth.jwks import JwksCache
from app.auth.verifier import JwtVerifier
from tests.auth.fakes import FakeClock, FakeIdp
from tests.auth.tokens import (
    EC_KID,
    JWKS_URL,
    RSA_KID,
    b64url,
    claims,
    ec_jwk,
    rs256_token,
    rsa_jwk,
)


async def test_keys_are_fetched_once_and_cached(jwks: JwksCache, idp: FakeIdp) -> None:
    first = await jwks.get_key(RSA_KID)
    second = await jwks.get_key(RSA_KID)
    ec_key = await jwks.get_key(EC_KID)

    assert first is second
    assert (first.kty, first.crv, first.alg) == ("RSA", None, "RS256")
    assert (ec_key.kty, ec_key.crv, ec_key.alg) == ("EC", "P-256", None)
    assert idp.jwks_fetches == 1
    assert idp.requests[0].headers["Accept"] == "application/json"


async def test_keys_are_refetched_after_the_ttl(
    jwks: JwksCache, idp: FakeIdp, clock: FakeClock
) -> None:
    await jwks.get_key(RSA_KID)

    clock.advance(599)
    await jwks.get_key(RSA_KID)
    assert idp.jwks_fetches == 1

    clock.advance(1)
    await jwks.get_key(RSA_KID)
    assert idp.jwks_fetches == 2


async def test_random_kids_cause_at_most_one_refresh_per_interval(
    verifier: JwtVerifier, idp: FakeIdp, clock: FakeClock, rsa_key: rsa.RSAPrivateKey
) -> None:
    # given a warm cache
    await verifier.verify(rs256_token(rsa_key, claims()))
    assert idp.jwks_fetches == 1

    async def flood() -> None:
        for _ in range(100):
            token = rs256_token(rsa_key, claims(), kid=secrets.token_hex(8))
            with pytest.raises(AuthenticationError, match="unknown_kid"):
                await verifier.verify(token)

    # when an attacker sends 100 random kids, within the refresh interval
    await flood()
    # then the IdP is not asked again
    assert idp.jwks_fetches == 1

    # and once the interval has passed, 100 more cost one fetch
    clock.advance(60)
    await flood()
    assert idp.jwks_fetches == 2
    clock.advance(30)
    await flood()
    assert idp.jwks_fetches == 2


async def test_a_rotated_key_is_picked_up_after_refresh(
    verifier: JwtVerifier,
    idp: FakeIdp,
    clock: FakeClock,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
) -> None:
    # given a warm cache with the old key only
    await verifier.verify(rs256_token(rsa_key, claims()))

    # when the IdP publishes a new key and starts signing with it
    idp.document = {"keys": [rsa_jwk(rsa_key, RSA_KID), rsa_jwk(other_rsa_key, "rsa-2")]}
    new_token = rs256_token(other_rsa_key, claims(sub="rotated"), kid="rsa-2")
    clock.advance(60)

    # then the unknown kid triggers a refresh and verifies
    assert (await verifier.verify(new_token)).subject == "rotated"
    assert idp.jwks_fetches == 2

    # and once the old key is withdrawn, the next refresh forgets it
    idp.document = {"keys": [rsa_jwk(other_rsa_key, "rsa-2")]}
    clock.advance(600)
    with pytest.raises(AuthenticationError, match="unknown_kid"):
        await verifier.verify(rs256_token(rsa_key, claims()))


async def test_concurrent_verifies_on_a_cold_cache_fetch_once(
    verifier: JwtVerifier, idp: FakeIdp, rsa_key: rsa.RSAPrivateKey
) -> None:
    # given a slow IdP and an empty cache
    idp.delay = 0.02
    tokens = [rs256_token(rsa_key, claims(sub=f"user_{i}")) for i in range(20)]

    # when 20 requests arrive together
    principals = await asyncio.gather(*(verifier.verify(token) for token in tokens))

    # then one fetch served them all
    assert [p.subject for p in principals] == [f"user_{i}" for i in range(20)]
    assert idp.jwks_fetches == 1


async def test_concurrent_callers_coalesce_even_without_a_refresh_interval(
    http_client: httpx.AsyncClient, idp: FakeIdp, clock: FakeClock
) -> None:
    # given a cache that would allow back-to-back refreshes
    jwks = JwksCache(http_client, JWKS_URL, clock=clock, min_refresh_interval_seconds=0)
    idp.delay = 0.02

    # when ten callers need the keys at once
    keys = await asyncio.gather(*(jwks.get_key(RSA_KID) for _ in range(10)))

    # then those queued behind the first fetch reuse its result
    assert {key.kid for key in keys} == {RSA_KID}
    assert idp.jwks_fetches == 1


async def test_concurrent_verifies_with_the_idp_down_fetch_once(
    verifier: JwtVerifier, idp: FakeIdp, rsa_key: rsa.RSAPrivateKey
) -> None:
    idp.delay = 0.02
    idp.down = True
    token = rs256_token(rsa_key, claims())

    results = await asyncio.gather(
        *(verifier.verify(token) for _ in range(10)), return_exceptions=True
    )

    assert all(isinstance(result, JwksUnavailableError) for result in results)
    assert idp.jwks_fetches == 1


async def test_a_cancelled_fetch_does_not_strand_the_waiters(jwks: JwksCache, idp: FakeIdp) -> None:
    # given a fetch in flight whose caller goes away
    idp.delay = 0.05
    first = asyncio.create_task(jwks.get_key(RSA_KID))
    second = asyncio.create_task(jwks.get_key(RSA_KID))
    await asyncio.sleep(0.01)
    first.cancel()

    # then the waiting caller fetches for itself and gets the key
    assert (await second).kid == RSA_KID
    with pytest.raises(asyncio.CancelledError):
        await first
    assert idp.jwks_fetches == 2


async def test_idp_down_with_a_cold_cache_is_unavailable_not_unauthenticated(
    verifier: JwtVerifier, idp: FakeIdp, rsa_key: rsa.RSAPrivateKey
) -> None:
    idp.down = True

    with pytest.raises(JwksUnavailableError):
        await verifier.verify(rs256_token(rsa_key, claims()))


async def test_idp_down_with_a_warm_cache_keeps_serving_stale_keys(
    verifier: JwtVerifier, idp: FakeIdp, clock: FakeClock, rsa_key: rsa.RSAPrivateKey
) -> None:
    # given a warm cache that has gone past its TTL while the IdP is down
    token = rs256_token(rsa_key, claims())
    await verifier.verify(token)
    idp.down = True
    clock.advance(700)

    # then tokens still verify with the cached keys, after one failed attempt
    assert (await verifier.verify(token)).subject == "user_123"
    assert (await verifier.verify(token)).subject == "user_123"
    assert idp.jwks_fetches == 2

    # and an unknown kid is still just an invalid token
    with pytest.raises(AuthenticationError, match="unknown_kid"):
        await verifier.verify(rs256_token(rsa_key, claims(), kid="rsa-9"))


async def test_after_a_failure_the_next_attempt_waits_a_little(
    jwks: JwksCache, idp: FakeIdp, clock: FakeClock
) -> None:
    # given a failed first fetch
    idp.down = True
    with pytest.raises(JwksUnavailableError):
        await jwks.get_key(RSA_KID)

    # then requests right after it do not hit the IdP again
    with pytest.raises(JwksUnavailableError):
        await jwks.get_key(RSA_KID)
    assert idp.jwks_fetches == 1

    # and a few seconds later, with the IdP back, keys are fetched
    idp.down = False
    clock.advance(5)
    assert (await jwks.get_key(RSA_KID)).kid == RSA_KID
    assert idp.jwks_fetches == 2


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b'{"keys": []}'),
        (404, b"not found"),
        (200, b"<html>not json</html>"),
        (200, b""),
        (200, b"[]"),
        (200, b'{"keys": {}}'),
        (200, b'{"no_keys": []}'),
        (200, b"[" * 10_000 + b"]" * 10_000),
    ],
)
async def test_an_unusable_jwks_response_is_unavailable(
    jwks: JwksCache, idp: FakeIdp, status: int, body: bytes
) -> None:
    idp.status = status
    idp.body = body

    with pytest.raises(JwksUnavailableError):
        await jwks.get_key(RSA_KID)


async def test_a_redirect_is_not_followed(jwks: JwksCache, idp: FakeIdp) -> None:
    idp.status = 302
    idp.body = b""

    with pytest.raises(JwksUnavailableError):
        await jwks.get_key(RSA_KID)
    assert len(idp.requests) == 1


async def test_a_jwks_body_over_64_kib_is_refused(
    jwks: JwksCache, idp: FakeIdp, rsa_key: rsa.RSAPrivateKey
) -> None:
    # given a valid document padded past the limit
    document = {"keys": [rsa_jwk(rsa_key, RSA_KID)], "padding": "x" * 65_536}
    idp.body = json.dumps(document).encode()

    with pytest.raises(JwksUnavailableError):
        await jwks.get_key(RSA_KID)


async def test_a_streamed_body_without_length_is_also_bounded(
    clock: FakeClock, rsa_key: rsa.RSAPrivateKey
) -> None:
    # given a server that streams an endless body without Content-Length
    async def endless() -> Any:
        yield b'{"keys": [], "padding": "'
        while True:
            yield b"x" * 4096

    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        jwks = JwksCache(client, JWKS_URL, clock=clock)
        with pytest.raises(JwksUnavailableError):
            await jwks.get_key(RSA_KID)


async def test_more_than_50_keys_is_refused(
    jwks: JwksCache, idp: FakeIdp, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    idp.document = {"keys": [ec_jwk(ec_key, f"ec-{i}") for i in range(51)]}

    with pytest.raises(JwksUnavailableError):
        await jwks.get_key("ec-0")


async def test_a_slow_idp_times_out(clock: FakeClock, idp: FakeIdp) -> None:
    idp.delay = 1.0
    async with httpx.AsyncClient(transport=httpx.MockTransport(idp.handle)) as client:
        jwks = JwksCache(client, JWKS_URL, clock=clock, fetch_timeout_seconds=0.02)
        with pytest.raises(JwksUnavailableError):
            await jwks.get_key(RSA_KID)


def rsa_jwk_with_modulus_bits(kid: str, bits: int) -> dict[str, Any]:
    # A modulus of the given size: nothing is ever signed with it, so it need not factor.
    n = secrets.randbits(bits) | (1 << (bits - 1)) | 1
    return {"kty": "RSA", "kid": kid, "n": b64url(n.to_bytes(bits // 8 + 1, "big")), "e": "AQAB"}


def skipped_keys(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> dict[str, dict[str, Any]]:
    """Keys the cache must not use, by kid."""
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
    good_ec = ec_jwk(ec_key, "x")
    private_rsa = rsa_key.private_numbers()
    return {
        "enc": rsa_jwk(rsa_key, "enc", use="enc"),
        "odd-use": rsa_jwk(rsa_key, "odd-use", use="whatever"),
        "encrypt-ops": rsa_jwk(rsa_key, "encrypt-ops", key_ops=["encrypt"]),
        "rsa-1024": rsa_jwk_with_modulus_bits("rsa-1024", 1024),
        "rsa-2047": rsa_jwk_with_modulus_bits("rsa-2047", 2047),
        "rsa-8200": rsa_jwk_with_modulus_bits("rsa-8200", 8200),
        "oct": {"kty": "oct", "kid": "oct", "k": b64url(b"s" * 32)},
        "okp": {"kty": "OKP", "kid": "okp", "crv": "Ed25519", "x": b64url(b"\x01" * 32)},
        "p384": {
            "kty": "EC",
            "kid": "p384",
            "crv": "P-384",
            "x": b64url(p384.x.to_bytes(48, "big")),
            "y": b64url(p384.y.to_bytes(48, "big")),
        },
        "off-curve": {**good_ec, "kid": "off-curve", "y": b64url(b"\x01" * 32)},
        "short-x": {**good_ec, "kid": "short-x", "x": b64url(b"\x01" * 31)},
        "bad-b64": {**good_ec, "kid": "bad-b64", "x": good_ec["x"] + "=="},
        "no-n": {"kty": "RSA", "kid": "no-n", "e": "AQAB"},
        "int-alg": rsa_jwk(rsa_key, "int-alg", alg=256),
        "private": rsa_jwk(rsa_key, "private", d=b64url(private_rsa.d.to_bytes(256, "big"))),
        "": rsa_jwk(rsa_key, ""),
    }


async def test_unusable_keys_are_skipped_and_the_rest_kept(
    jwks: JwksCache,
    idp: FakeIdp,
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    # given a JWKS mixing one good key with every kind of unusable one
    skipped = skipped_keys(rsa_key, ec_key)
    no_kid = {k: v for k, v in rsa_jwk(rsa_key, "ignored").items() if k != "kid"}
    idp.document = {"keys": [*skipped.values(), no_kid, "not-an-object", rsa_jwk(rsa_key, "good")]}

    # then the good key is served
    assert (await jwks.get_key("good")).kty == "RSA"
    # and none of the others
    for kid in skipped:
        with pytest.raises(AuthenticationError, match="unknown_kid"):
            await jwks.get_key(kid)
    assert idp.jwks_fetches == 1


async def test_a_kid_used_by_two_keys_is_ignored(
    jwks: JwksCache,
    idp: FakeIdp,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    idp.document = {
        "keys": [
            rsa_jwk(rsa_key, "twice"),
            rsa_jwk(other_rsa_key, "twice"),
            ec_jwk(ec_key, "twice"),
            rsa_jwk(rsa_key, "once"),
        ]
    }

    assert (await jwks.get_key("once")).kid == "once"
    with pytest.raises(AuthenticationError, match="unknown_kid"):
        await jwks.get_key("twice")
