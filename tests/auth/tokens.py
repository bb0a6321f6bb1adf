"""Hand-built JWTs and JWKS documents, so tests control every header and claim byte."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ISSUER = "https://idp.example"
AUDIENCE = "fintech-gateway"
JWKS_URL = "https://idp.example/.well-known/jwks.json"
NOW = 1_700_000_000
DEV_SECRET = "dev-secret-of-at-least-thirty-two-bytes!"
RSA_KID = "rsa-1"
EC_KID = "ec-1"

# Marks a claim or header to leave out of the token.
OMIT: Any = object()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims at NOW, with overrides (OMIT removes one)."""
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user_123",
        "iat": NOW - 60,
        "exp": NOW + 3600,
        "memberships": [{"business_id": "biz_acme", "role": "owner"}],
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not OMIT}


def signing_input(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{b64url_json(header)}.{b64url_json(payload)}"


def rs256(key: rsa.RSAPrivateKey, message: str) -> str:
    return b64url(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256()))


def es256(key: ec.EllipticCurvePrivateKey, message: str) -> str:
    r, s = decode_dss_signature(key.sign(message.encode(), ec.ECDSA(hashes.SHA256())))
    return b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def hs256(secret: bytes, message: str) -> str:
    return b64url(hmac.new(secret, message.encode(), hashlib.sha256).digest())


def rs256_token(
    key: rsa.RSAPrivateKey, payload: dict[str, Any], *, kid: str = RSA_KID, **header: Any
) -> str:
    message = signing_input({"alg": "RS256", "typ": "JWT", "kid": kid, **header}, payload)
    return f"{message}.{rs256(key, message)}"


def es256_token(
    key: ec.EllipticCurvePrivateKey, payload: dict[str, Any], *, kid: str = EC_KID
) -> str:
    message = signing_input({"alg": "ES256", "typ": "JWT", "kid": kid}, payload)
    return f"{message}.{es256(key, message)}"


def hs256_token(secret: bytes, payload: dict[str, Any], **header: Any) -> str:
    message = signing_input({"alg": "HS256", "typ": "JWT", **header}, payload)
    return f"{message}.{hs256(secret, message)}"


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    return {"kty": "RSA", "kid": kid, "use": "sig", "n": b64url(n), "e": b64url(e), **extra}


def ec_jwk(key: ec.EllipticCurvePrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "kid": kid,
        "use": "sig",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
        **extra,
    }
