"""Verifies an end user's JWT and turns it into a Principal."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.auth.errors import AuthenticationError
from app.auth.jwks import Jwk, JwksCache, b64url_decode
from app.auth.principal import KNOWN_SCOPES, Principal, Role
from app.auth.verified import DEFAULT_SIZE, VerifiedTokens

SUPPORTED_ALGORITHMS = frozenset({"RS256", "ES256", "HS256"})
_JWKS_ALGORITHMS = frozenset({"RS256", "ES256"})
# RFC 7518 section 3.2: an HS256 key must be at least as long as the hash.
_MIN_HS256_SECRET_BYTES = 32
_MAX_SUBJECT_LENGTH = 255
_SUBJECT_SHAPE = re.compile(rf"[\x21-\x7e]{{1,{_MAX_SUBJECT_LENGTH}}}")
# Year 2286 in seconds; a signed token claiming more is malformed, not "far future".
_MAX_NUMERIC_DATE = 10**10
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", re.ASCII)
_BUSINESS_ID = re.compile(r"biz_[A-Za-z0-9]{1,32}", re.ASCII)
_ROLES = {role.value: role for role in Role}
# Signature checking only: every claim is validated below, against our own clock.
_JWS = jwt.PyJWS()


@dataclass(frozen=True, slots=True)
class JwtConfig:
    issuer: str
    audience: str
    jwks_url: str
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    leeway_seconds: int = 30
    # Only ever set by the app in development; kept out of repr so it cannot reach a log.
    dev_hs256_secret: str | None = field(default=None, repr=False)
    max_token_bytes: int = 8192

    def __post_init__(self) -> None:
        if not self.issuer or not self.audience:
            raise ValueError("issuer and audience are required")
        if not self.algorithms or not set(self.algorithms) <= SUPPORTED_ALGORITHMS:
            raise ValueError(f"algorithms must be among {sorted(SUPPORTED_ALGORITHMS)}")
        if not 0 <= self.leeway_seconds <= 300:
            raise ValueError("leeway_seconds must be between 0 and 300")
        if self.max_token_bytes <= 0:
            raise ValueError("max_token_bytes must be positive")
        if (
            self.dev_hs256_secret is not None
            and len(self.dev_hs256_secret.encode()) < _MIN_HS256_SECRET_BYTES
        ):
            raise ValueError(f"dev_hs256_secret must be at least {_MIN_HS256_SECRET_BYTES} bytes")


class JwtVerifier:
    def __init__(
        self,
        config: JwtConfig,
        jwks: JwksCache | None,
        *,
        clock: Callable[[], float] = time.time,
        verified_tokens: int = DEFAULT_SIZE,
    ) -> None:
        """`verified_tokens`: how many accepted tokens' claims to keep (app/auth/verified.py);
        0 checks every token's signature every time."""
        if jwks is None and _JWKS_ALGORITHMS & set(config.algorithms):
            raise ValueError("RS256 and ES256 need a JwksCache")
        self._config = config
        self._jwks = jwks
        self._clock = clock
        self._verified = VerifiedTokens(verified_tokens)

    async def verify(self, token: str) -> Principal:
        """The caller the token proves, or AuthenticationError (JwksUnavailableError when
        the identity provider's keys cannot be had)."""
        alg, kid = self._read_header(token)
        key = await self._key_for(alg, kid)
        known = self._verified.claims(token, key)
        if known is not None:
            try:
                return _principal(known, self._config, self._clock())
            except AuthenticationError:
                self._verified.forget(token)
                raise
        try:
            signed = _JWS.decode_complete(token, key=key, algorithms=[alg])
        except jwt.InvalidSignatureError as exc:
            raise AuthenticationError("bad_signature") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise AuthenticationError("algorithm_not_allowed") from exc
        except jwt.InvalidKeyError as exc:
            raise AuthenticationError("bad_key") from exc
        except jwt.PyJWTError as exc:
            raise AuthenticationError("malformed") from exc
        claims = _json_object(signed["payload"], "malformed_payload")
        principal = _principal(claims, self._config, self._clock())
        self._verified.keep(token, key, claims)
        return principal

    def _read_header(self, token: str) -> tuple[str, str | None]:
        # Length first: nothing is parsed out of an oversized token.
        if len(token) > self._config.max_token_bytes:
            raise AuthenticationError("token_too_long")
        if not _TOKEN_SHAPE.fullmatch(token):
            raise AuthenticationError("malformed")
        try:
            raw_header = b64url_decode(token.split(".", 1)[0])
        except ValueError as exc:
            raise AuthenticationError("malformed") from exc
        header = _json_object(raw_header, "malformed_header")
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise AuthenticationError("missing_alg")
        if alg.lower() == "none":
            raise AuthenticationError("alg_none")
        if alg not in self._config.algorithms:
            raise AuthenticationError("algorithm_not_allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AuthenticationError("malformed_header")
        # jku, x5u, jwk and x5c are deliberately never read: a token must not choose
        # where its own verification key comes from.
        return alg, kid

    async def _key_for(
        self, alg: str, kid: str | None
    ) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey | bytes:
        if alg == "HS256":
            if self._config.dev_hs256_secret is None:
                raise AuthenticationError("algorithm_not_allowed")
            return self._config.dev_hs256_secret.encode()
        if not kid:
            raise AuthenticationError("missing_kid")
        if self._jwks is None:  # ruled out by __init__; kept for the type checker
            raise AuthenticationError("algorithm_not_allowed")
        jwk = await self._jwks.get_key(kid)
        if not _key_fits(jwk, alg):
            raise AuthenticationError("key_alg_mismatch")
        return jwk.key


def _key_fits(jwk: Jwk, alg: str) -> bool:
    if jwk.alg is not None and jwk.alg != alg:
        return False
    if alg == "RS256":
        return isinstance(jwk.key, rsa.RSAPublicKey)
    if alg == "ES256":
        return isinstance(jwk.key, ec.EllipticCurvePublicKey) and jwk.crv == "P-256"
    return False


def _json_object(raw: bytes, reason: str) -> dict[str, Any]:
    try:
        value = json.loads(raw, object_pairs_hook=_no_duplicate_names)
    except (ValueError, RecursionError) as exc:
        raise AuthenticationError(reason) from exc
    if not isinstance(value, dict):
        raise AuthenticationError(reason)
    return value


def _no_duplicate_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which duplicate wins; a token that relies on it is refused.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _principal(claims: dict[str, Any], config: JwtConfig, now: float) -> Principal:
    issuer = _required(claims, "iss")
    # Plain equality: no prefix, substring or normalisation.
    if not isinstance(issuer, str) or issuer != config.issuer:
        raise AuthenticationError("bad_issuer")
    _check_audience(_required(claims, "aud"), config.audience)
    subject = _required(claims, "sub")
    # The subject travels downstream as the X-Actor-Id header and into audit logs:
    # printable ASCII only, so it can never split a header or forge a log line.
    if not isinstance(subject, str) or not _SUBJECT_SHAPE.fullmatch(subject):
        raise AuthenticationError("bad_subject")
    leeway = config.leeway_seconds
    if _numeric_date(claims, "exp") <= now - leeway:
        raise AuthenticationError("expired")
    if _numeric_date(claims, "iat") > now + leeway:
        raise AuthenticationError("issued_in_future")
    if "nbf" in claims and _numeric_date(claims, "nbf") > now + leeway:
        raise AuthenticationError("not_yet_valid")
    return Principal(
        issuer=issuer,
        subject=subject,
        memberships=_memberships(claims),
        scopes=_scopes(claims),
    )


def _required(claims: dict[str, Any], name: str) -> Any:
    value = claims.get(name)
    if value is None:
        raise AuthenticationError(f"missing_claim:{name}")
    return value


def _check_audience(aud: Any, audience: str) -> None:
    values = [aud] if isinstance(aud, str) else aud
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise AuthenticationError("bad_audience")
    if audience not in values:
        raise AuthenticationError("bad_audience")


def _numeric_date(claims: dict[str, Any], name: str) -> float:
    value = _required(claims, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthenticationError(f"bad_claim:{name}")
    # Bounded before any float arithmetic: 10**400 would overflow, NaN never compares.
    if isinstance(value, float) and not math.isfinite(value):
        raise AuthenticationError(f"bad_claim:{name}")
    if not -_MAX_NUMERIC_DATE < value < _MAX_NUMERIC_DATE:
        raise AuthenticationError(f"bad_claim:{name}")
    return value


def _memberships(claims: dict[str, Any]) -> dict[str, Role]:
    if "memberships" not in claims:
        return {}
    entries = claims["memberships"]
    if not isinstance(entries, list):
        raise AuthenticationError("bad_claim:memberships")
    memberships: dict[str, Role] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise AuthenticationError("bad_claim:memberships")
        business_id = entry.get("business_id")
        role = entry.get("role")
        if (
            not isinstance(business_id, str)
            or not _BUSINESS_ID.fullmatch(business_id)
            or not isinstance(role, str)
            or role not in _ROLES
            # Two roles for one business: neither can be trusted to be the intended one.
            or business_id in memberships
        ):
            raise AuthenticationError("bad_claim:memberships")
        memberships[business_id] = _ROLES[role]
    return memberships


def _scopes(claims: dict[str, Any]) -> frozenset[str] | None:
    if "scope" not in claims:
        return None
    scope = claims["scope"]
    if not isinstance(scope, str):
        raise AuthenticationError("bad_claim:scope")
    # Scopes this gateway does not know grant nothing here, but do not spoil the token.
    return frozenset(scope.split(" ")) & KNOWN_SCOPES
