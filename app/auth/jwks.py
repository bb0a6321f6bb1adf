"""The identity provider's signing keys, fetched from its JWKS URL and cached by `kid`."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.auth.errors import AuthenticationError, JwksUnavailableError

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_KEYS = 50
MIN_RSA_BITS = 2048
# Verification cost grows with the modulus; nobody signs access tokens with more.
MAX_RSA_BITS = 8192
MAX_KID_LENGTH = 256
# Members only a private JWK has. A JWKS that publishes them has leaked its signing key,
# so anyone could forge tokens with it: such a key is never trusted.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_B64URL = re.compile(r"[A-Za-z0-9_-]*", re.ASCII)


def b64url_decode(value: str) -> bytes:
    """Strict unpadded base64url (RFC 7515 section 2): no padding, no stray characters."""
    if not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


@dataclass(frozen=True, slots=True)
class Jwk:
    """One usable public signing key of the JWKS."""

    kid: str
    kty: str  # "RSA" or "EC"
    crv: str | None  # "P-256" for EC keys, None for RSA
    alg: str | None  # the JWK's own `alg`, when it names one
    key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class _FetchError(Exception):
    """A fetch or its response was unusable; the message is a short reason for the log."""


class JwksCache:
    """Keys by `kid`, refreshed when the TTL expires or an unknown `kid` shows up.

    Refreshes are rate limited (an attacker sending random kids must not make the gateway
    hammer the identity provider) and coalesced (a cold cache under load fetches once).
    A failed refresh keeps serving the keys already cached.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        ttl_seconds: float = 600,
        min_refresh_interval_seconds: float = 60,
        retry_after_failure_seconds: float = 5,
        fetch_timeout_seconds: float = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._url = url
        self._ttl = ttl_seconds
        self._min_refresh_interval = min_refresh_interval_seconds
        # Shorter than the refresh interval: with nothing cached every request is a 503
        # until a fetch succeeds, so a blip at start-up must not cost a whole minute.
        self._retry_after_failure = min(retry_after_failure_seconds, min_refresh_interval_seconds)
        self._fetch_timeout = fetch_timeout_seconds
        self._clock = clock
        self._keys: dict[str, Jwk] = {}
        self._fetched_at: float | None = None
        self._next_attempt_at = -math.inf
        # Counts finished fetch attempts, so callers that queued on the lock behind a
        # fetch can tell that it happened and not fetch again.
        self._attempts = 0
        self._lock = asyncio.Lock()

    async def get_key(self, kid: str) -> Jwk:
        """The key for `kid`.

        Raises AuthenticationError("unknown_kid") when the JWKS has no such usable key and
        JwksUnavailableError when no JWKS could be fetched yet.
        """
        if self._is_stale() or kid not in self._keys:
            await self._refresh()
        if self._fetched_at is None:
            raise JwksUnavailableError()
        key = self._keys.get(kid)
        if key is None:
            raise AuthenticationError("unknown_kid")
        return key

    def _is_stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._ttl

    async def _refresh(self) -> None:
        attempts_seen = self._attempts
        async with self._lock:
            if self._attempts != attempts_seen:
                return
            now = self._clock()
            if now < self._next_attempt_at:
                return
            try:
                keys = await self._fetch()
            except _FetchError as exc:
                self._attempts += 1
                self._next_attempt_at = now + self._retry_after_failure
                logger.warning(
                    "JWKS refresh failed (%s); %s",
                    exc,
                    "keeping the cached keys" if self._fetched_at is not None else "no keys",
                )
                return
            self._attempts += 1
            self._keys = keys
            self._fetched_at = now
            self._next_attempt_at = now + self._min_refresh_interval

    async def _fetch(self) -> dict[str, Jwk]:
        try:
            async with asyncio.timeout(self._fetch_timeout):
                body = await self._get_body()
        except TimeoutError as exc:
            raise _FetchError("timeout") from exc
        except httpx.HTTPError as exc:
            raise _FetchError(f"http_error:{type(exc).__name__}") from exc
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise _FetchError("not_json") from exc
        return _parse_jwks(document)

    async def _get_body(self) -> bytes:
        # Redirects are not followed: the keys come from the configured URL or nowhere.
        async with self._client.stream(
            "GET", self._url, headers={"Accept": "application/json"}, follow_redirects=False
        ) as response:
            if response.status_code != 200:
                raise _FetchError(f"status:{response.status_code}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                raise _FetchError("too_large")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise _FetchError("too_large")
            return bytes(body)


def _parse_jwks(document: Any) -> dict[str, Jwk]:
    """The usable keys of a JWKS document; raises _FetchError if it is not a JWKS at all."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise _FetchError("not_a_jwks")
    entries: list[Any] = document["keys"]
    if len(entries) > MAX_KEYS:
        raise _FetchError("too_many_keys")
    keys: dict[str, Jwk] = {}
    ambiguous: set[str] = set()
    for entry in entries:
        jwk = _parse_key(entry)
        if jwk is None:
            continue
        if jwk.kid in keys or jwk.kid in ambiguous:
            # Two keys under one kid: picking either could verify with the wrong one.
            ambiguous.add(jwk.kid)
            keys.pop(jwk.kid, None)
            continue
        keys[jwk.kid] = jwk
    if ambiguous:
        logger.warning("JWKS has %d kid(s) used by more than one key; ignored", len(ambiguous))
    return keys


def _parse_key(entry: Any) -> Jwk | None:
    """A usable verification key, or None for anything else (skipped, not fatal)."""
    if not isinstance(entry, dict):
        return None
    kid = entry.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH:
        return None
    if entry.get("use", "sig") != "sig":
        return None
    key_ops = entry.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    alg = entry.get("alg")
    if alg is not None and not isinstance(alg, str):
        return None
    if _PRIVATE_MEMBERS & entry.keys():
        logger.warning("JWKS publishes private key material for kid %r; key ignored", kid)
        return None
    try:
        if entry.get("kty") == "RSA":
            return Jwk(kid=kid, kty="RSA", crv=None, alg=alg, key=_rsa_key(entry))
        if entry.get("kty") == "EC" and entry.get("crv") == "P-256":
            return Jwk(kid=kid, kty="EC", crv="P-256", alg=alg, key=_p256_key(entry))
    except (KeyError, TypeError, ValueError):
        return None
    return None


def _rsa_key(entry: dict[str, Any]) -> rsa.RSAPublicKey:
    n = int.from_bytes(b64url_decode(entry["n"]), "big")
    e = int.from_bytes(b64url_decode(entry["e"]), "big")
    if not MIN_RSA_BITS <= n.bit_length() <= MAX_RSA_BITS:
        raise ValueError("RSA modulus size out of range")
    return rsa.RSAPublicNumbers(e, n).public_key()


def _p256_key(entry: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    x = b64url_decode(entry["x"])
    y = b64url_decode(entry["y"])
    if len(x) != 32 or len(y) != 32:
        raise ValueError("P-256 coordinates are 32 bytes")
    # Rejects points not on the curve (invalid-curve attacks).
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
