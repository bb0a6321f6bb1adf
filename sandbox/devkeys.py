"""A local signing key and token minting, for development and tests only.

Production tokens come from the real identity provider; nothing here is used by the
gateway when it runs in production.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth.principal import Role


def load_or_create_private_key(path: Path | str) -> rsa.RSAPrivateKey:
    """The RSA key stored at `path`, creating it (mode 0600) on first use."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_key_file(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return key


def _create_key_file(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Written whole under a temporary name, then linked into place: two processes
    # starting together never read a half-written file, and the loser keeps the winner's.
    # mkstemp creates the file with mode 0600 before any key byte is written.
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256) of an RSA public key."""
    numbers = public_key.public_numbers()
    # RFC 7638: the required members only, in lexicographic order, without whitespace.
    canonical = json.dumps(
        {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)},
        separators=(",", ":"),
        sort_keys=True,
    )
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def jwks_document(private_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The public JWKS for `private_key`, as the identity provider would publish it."""
    numbers = private_key.public_key().public_numbers()
    return {
        "keys": [
            {
                "kty": "RSA",
                "kid": key_id(private_key.public_key()),
                "alg": "RS256",
                "use": "sig",
                "n": _b64url_uint(numbers.n),
                "e": _b64url_uint(numbers.e),
            }
        ]
    }


def mint_token(
    private_key: rsa.RSAPrivateKey,
    *,
    issuer: str,
    audience: str,
    subject: str,
    memberships: Sequence[tuple[str, Role]],
    scopes: Sequence[str] | None = None,
    ttl_seconds: int = 8 * 3600,
    now: int | None = None,
) -> str:
    """An RS256 token as the identity provider would issue it."""
    issued_at = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        "memberships": [
            {"business_id": business_id, "role": Role(role).value}
            for business_id, role in memberships
        ],
    }
    if scopes is not None:
        claims["scope"] = " ".join(scopes)
    return jwt.encode(
        claims, private_key, algorithm="RS256", headers={"kid": key_id(private_key.public_key())}
    )
