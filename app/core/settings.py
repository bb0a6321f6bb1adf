"""Settings from the environment, with the guards that keep a production gateway safe.

Names are the contracts README's. Development gets working defaults (the local sandbox
services and development identity provider); production gets none for anything that
must be chosen deliberately, and refuses to start on a setting that would be unsafe.
Every error names the environment variable at fault.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.core.networks import parse_networks

# The local sandbox services and development identity provider `make run` starts.
SANDBOX_INVOICING_URL = "http://127.0.0.1:8101"
SANDBOX_PAYMENTS_URL = "http://127.0.0.1:8102"
SANDBOX_INVOICING_TOKEN = "sandbox-invoicing-token"  # noqa: S105 - public sandbox value
SANDBOX_PAYMENTS_TOKEN = "sandbox-payments-token"  # noqa: S105 - public sandbox value
DEV_IDP_URL = "http://127.0.0.1:8100"
DEV_JWT_ISSUER = DEV_IDP_URL
DEV_JWT_AUDIENCE = "fintech-gateway"
DEV_JWKS_URL = f"{DEV_IDP_URL}/.well-known/jwks.json"

ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "ES256"})
DEV_ONLY_ALGORITHMS = frozenset({"HS256"})
MIN_HS256_SECRET_BYTES = 32
SUPPORTED_DATABASE_DRIVERS = ("postgresql+asyncpg://", "sqlite+aiosqlite://")


class SettingsError(ValueError):
    """The environment does not describe a gateway that may start; the message names why."""


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _as_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        # The resolver also takes "2130706433", "127.1" and "0x7f.1" for 127.0.0.1.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def is_loopback_host(host: str | None) -> bool:
    """Whether connecting to `host` stays on this machine, however it is spelled."""
    if not host:
        return False
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = _as_ip(host)
    # 0.0.0.0 and :: as a destination reach this machine too.
    return address is not None and (address.is_loopback or address.is_unspecified)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


class Settings(BaseSettings):
    """The gateway's configuration; build with `load_settings()` to get named errors."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    app_env: Literal["development", "production"] = "production"
    # May carry a password: kept out of repr and logs.
    database_url: str = Field(default="sqlite+aiosqlite:///./var/gateway.db", repr=False)
    # Each jurisdiction's own database for the gateway's records of money (data
    # residency, app/residency/); unset: DATABASE_URL.
    database_url_in: str | None = Field(default=None, repr=False)
    database_url_gb: str | None = Field(default=None, repr=False)

    invoicing_url: str | None = None
    invoicing_token: SecretStr | None = None
    payments_url: str | None = None
    payments_token: SecretStr | None = None

    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_url: str | None = None
    jwt_algorithms: Annotated[tuple[str, ...], NoDecode] = ("RS256", "ES256")
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    jwt_dev_secret: SecretStr | None = None

    request_timeout_seconds: float = Field(default=10, gt=0, le=300)
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    graphiql_enabled: bool | None = None
    # Development only: a demo token `make run` mints, pre-filled in GraphiQL's Headers tab.
    graphiql_demo_token: SecretStr | None = Field(default=None, repr=False)

    # The outbox relay: how often it looks for unfinished payment sagas, and how long it
    # leaves a saga to the request that started it.
    relay_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    relay_grace_seconds: float = Field(default=30.0, ge=0, le=3600)

    # Money that settles later (app/settlement): how often the settler runs a round, how
    # soon it first looks at a pending payment again (then backing off, doubling, up to
    # the maximum), how many downstream calls a second it may make, and when a payment
    # still pending is logged as an alert (5 days).
    settlement_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    settlement_poll_seconds: float = Field(default=30.0, gt=0, le=86_400)
    settlement_max_backoff_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    settlement_calls_per_second: float = Field(default=5.0, gt=0, le=1000)
    pending_payment_alert_seconds: float = Field(default=432_000.0, gt=0, le=90 * 86_400)
    # Reconciliation inside the app (python -m app reconcile runs it by hand): every this
    # many seconds, over the businesses the gateway has taken pending payments for;
    # 0 turns it off.
    reconcile_interval_seconds: float = Field(default=0.0, ge=0, le=7 * 86_400)

    # Resilience to downstream faults: attempts per call (the first included) for
    # transient failures, and when a service's circuit opens and for how long.
    downstream_max_attempts: int = Field(default=3, ge=1, le=5)
    breaker_failure_threshold: int = Field(default=5, ge=1, le=1000)
    breaker_open_seconds: float = Field(default=10.0, gt=0, le=600)
    # /readyz answers from a cached check for this long: probes must not become load.
    readiness_cache_seconds: float = Field(default=2.0, ge=0, le=60)

    # Telemetry.
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # In production /metrics answers only with this bearer token (404 without one set).
    metrics_token: SecretStr | None = Field(default=None, repr=False)
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "fintech-gateway"
    sentry_dsn: SecretStr | None = Field(default=None, repr=False)

    # Rate limits (app/ratelimit/): a token bucket per token subject, and one per client
    # address for requests without a valid token. A request costs its weight in tokens.
    # In units of worst-case downstream calls (app/schema/limits/cost.py): the dashboard at 50
    # invoices costs 55, a detail view a few, a mutation 10.
    rate_limit_capacity: int = Field(default=1000, ge=1, le=1_000_000)
    rate_limit_refill_per_second: float = Field(default=10.0, gt=0, le=1_000_000)
    rate_limit_unauthenticated_capacity: int = Field(default=30, ge=1, le=1_000_000)
    rate_limit_unauthenticated_refill_per_second: float = Field(default=0.5, gt=0, le=1_000_000)
    rate_limit_max_keys: int = Field(default=100_000, ge=1, le=10_000_000)
    rate_limit_key_prefix: str = Field(default="gateway:ratelimit:", min_length=1, max_length=100)
    # Shared buckets for every gateway process; in-process buckets when unset. May carry
    # a password: kept out of repr and logs.
    redis_url: str | None = Field(default=None, repr=False)
    redis_timeout_seconds: float = Field(default=0.25, gt=0, le=5)
    # RabbitMQ for domain events (app/events, docs/events.md); unset, events stay in the
    # database. May carry a password: kept out of repr and logs.
    amqp_url: str | None = Field(default=None, repr=False)
    # Proxies whose X-Forwarded-For is believed (addresses or networks); none by default.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()

    # Persisted queries (app/persisted/): `off`, `apq` (automatic persisted queries) or
    # `required` (only documents from the manifest, per client, may run).
    persisted_queries: Literal["off", "apq", "required"] = "apq"
    persisted_queries_manifest: str | None = None
    persisted_queries_cache_size: int = Field(default=1000, ge=1, le=100_000)
    persisted_queries_max_bytes: int = Field(default=16_384, ge=1, le=1_000_000)

    # What one request may ask for, checked before anything runs (README "Limits").
    graphql_max_depth: int = Field(default=12, ge=1, le=100)
    graphql_max_aliases: int = Field(default=30, ge=0, le=1000)
    graphql_max_tokens: int = Field(default=2000, ge=100, le=100_000)
    graphql_max_directives: int = Field(default=50, ge=0, le=1000)
    graphql_max_cost: int = Field(default=500, ge=1, le=1_000_000)
    graphql_max_errors: int = Field(default=10, ge=1, le=100)
    # Field selections in the operation (fragments counted where spread), and fields that
    # share one response key in a selection: both bound validation's work, before it runs.
    graphql_max_fields: int = Field(default=500, ge=10, le=100_000)
    graphql_max_repeated_fields: int = Field(default=20, ge=1, le=1000)
    # What a `__schema` introspection costs (`__type`: a twentieth of it): about 70 ms of
    # CPU and 75 KiB of answer each, where a 55-cost dashboard takes about 27 ms.
    graphql_introspection_cost: int = Field(default=200, ge=1, le=1_000_000)
    # 0 turns operation batching (a JSON array of operations) off.
    graphql_max_batch: int = Field(default=0, ge=0, le=20)
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=16 * 1_048_576)

    # Where development keeps its generated signing key and sandbox databases.
    dev_data_dir: str = "./var"

    _split_algorithms = field_validator("jwt_algorithms", mode="before")(_split_commas)
    _split_origins = field_validator("cors_origins", mode="before")(_split_commas)
    _split_proxies = field_validator("trusted_proxies", mode="before")(_split_commas)

    @field_validator(
        "redis_url",
        "amqp_url",
        "persisted_queries_manifest",
        "database_url_in",
        "database_url_gb",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def is_development(self) -> bool:
        return self.app_env == "development"

    @property
    def graphiql(self) -> bool:
        if self.graphiql_enabled is None:
            return self.is_development
        return self.graphiql_enabled

    @model_validator(mode="before")
    @classmethod
    def _development_defaults(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        env = str(data.get("app_env") or data.get("APP_ENV") or "production").lower()
        if env != "development":
            return data
        defaults = {
            "invoicing_url": SANDBOX_INVOICING_URL,
            "invoicing_token": SANDBOX_INVOICING_TOKEN,
            "payments_url": SANDBOX_PAYMENTS_URL,
            "payments_token": SANDBOX_PAYMENTS_TOKEN,
            "jwt_issuer": DEV_JWT_ISSUER,
            "jwt_audience": DEV_JWT_AUDIENCE,
            "jwt_jwks_url": DEV_JWKS_URL,
        }
        present = {key.lower() for key in data}
        return {**{k: v for k, v in defaults.items() if k not in present}, **data}

    @model_validator(mode="after")
    def _guards(self) -> Self:
        problems: list[str] = []
        for name in (
            "invoicing_url",
            "invoicing_token",
            "payments_url",
            "payments_token",
            "jwt_issuer",
            "jwt_audience",
            "jwt_jwks_url",
        ):
            value = getattr(self, name)
            empty = (
                value is None
                or not (value.get_secret_value() if isinstance(value, SecretStr) else value).strip()
            )
            if empty:
                problems.append(f"{name.upper()}: required")
        problems += self._check_urls()
        problems += self._check_algorithms()
        problems += _check_database_urls(self.regional_database_urls(), self.database_url)
        for origin in self.cors_origins:
            scheme, host, _ = _origin(origin)
            if origin == "*" or scheme not in ("http", "https") or not host:
                problems.append(f"CORS_ORIGINS: {origin!r} is not an http(s) origin")
        problems += self._check_protection()
        if not self.is_development:
            problems += self._production_guards()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def regional_database_urls(self) -> dict[str, str]:
        """Jurisdiction (GB, IN) -> the database of its businesses' records."""
        return _regional(self.database_url, self.database_url_gb, self.database_url_in)

    def _check_urls(self) -> list[str]:
        problems = []
        for name in ("invoicing_url", "payments_url", "jwt_jwks_url"):
            value = getattr(self, name)
            if value and (urlsplit(value).scheme not in ("http", "https") or not _origin(value)[1]):
                problems.append(f"{name.upper()}: must be an http(s) URL")
        return problems

    def _check_protection(self) -> list[str]:
        problems = []
        try:
            parse_networks(self.trusted_proxies)
        except ValueError as exc:
            problems.append(f"TRUSTED_PROXIES: {exc}")
        if self.redis_url is not None:
            parts = urlsplit(self.redis_url)
            if parts.scheme not in ("redis", "rediss") or not parts.hostname:
                problems.append("REDIS_URL: must be a redis:// or rediss:// URL")
        if self.amqp_url is not None:
            parts = urlsplit(self.amqp_url)
            if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
                problems.append("AMQP_URL: must be an amqp:// or amqps:// URL")
        if self.persisted_queries == "required" and not self.persisted_queries_manifest:
            problems.append("PERSISTED_QUERIES_MANIFEST: required when PERSISTED_QUERIES=required")
        return problems

    def _check_algorithms(self) -> list[str]:
        allowed = ASYMMETRIC_ALGORITHMS | (DEV_ONLY_ALGORITHMS if self.is_development else set())
        if not self.jwt_algorithms:
            return ["JWT_ALGORITHMS: at least one algorithm is required"]
        unsupported = [alg for alg in self.jwt_algorithms if alg not in allowed]
        if unsupported:
            return [f"JWT_ALGORITHMS: not allowed here: {', '.join(unsupported)}"]
        if "HS256" in self.jwt_algorithms and self.jwt_dev_secret is None:
            return ["JWT_DEV_SECRET: required when JWT_ALGORITHMS includes HS256"]
        secret = self.jwt_dev_secret.get_secret_value() if self.jwt_dev_secret else None
        if secret is not None and len(secret.encode()) < MIN_HS256_SECRET_BYTES:
            # RFC 7518 section 3.2: an HS256 key shorter than the hash is guessable.
            return [f"JWT_DEV_SECRET: must be at least {MIN_HS256_SECRET_BYTES} bytes"]
        return []

    def _production_guards(self) -> list[str]:
        problems = []
        if self.jwt_dev_secret is not None:
            problems.append("JWT_DEV_SECRET: must not be set in production")
        if self.graphiql_demo_token is not None:
            problems.append("GRAPHIQL_DEMO_TOKEN: must not be set in production")
        # Tokens (service and end-user keys) must not cross a network in clear text.
        for name in ("invoicing_url", "payments_url", "jwt_jwks_url"):
            value = getattr(self, name)
            if value:
                parts = urlsplit(value)
                if parts.scheme != "https" and not is_loopback_host(parts.hostname):
                    problems.append(f"{name.upper()}: must be https:// in production (or loopback)")
        if self.redis_url:
            parts = urlsplit(self.redis_url)
            if parts.scheme == "redis" and not is_loopback_host(parts.hostname):
                problems.append("REDIS_URL: must be rediss:// in production (or loopback)")
        if self.amqp_url:
            # The broker's credentials and every event (business ids, amounts) must not
            # cross a network in clear text.
            parts = urlsplit(self.amqp_url)
            if parts.scheme == "amqp" and parts.hostname and not is_loopback_host(parts.hostname):
                problems.append("AMQP_URL: must be amqps:// in production (or loopback)")
        sandboxes = {
            "invoicing_url": SANDBOX_INVOICING_URL,
            "payments_url": SANDBOX_PAYMENTS_URL,
            "jwt_jwks_url": DEV_JWKS_URL,
        }
        for name, sandbox_url in sandboxes.items():
            value = getattr(self, name)
            if value and _same_origin_as_sandbox(value, sandbox_url):
                problems.append(f"{name.upper()}: points at the development sandbox")
        tokens = {
            "invoicing_token": SANDBOX_INVOICING_TOKEN,
            "payments_token": SANDBOX_PAYMENTS_TOKEN,
        }
        for name, sandbox_token in tokens.items():
            secret = getattr(self, name)
            if secret is not None and secret.get_secret_value() == sandbox_token:
                problems.append(f"{name.upper()}: is the public sandbox token")
        if self.jwt_issuer and _same_origin_as_sandbox(self.jwt_issuer, DEV_JWT_ISSUER):
            problems.append("JWT_ISSUER: is the development identity provider")
        return problems


def _same_origin_as_sandbox(url: str, sandbox_url: str) -> bool:
    scheme, host, port = _origin(url)
    sandbox_scheme, _, sandbox_port = _origin(sandbox_url)
    return scheme == sandbox_scheme and is_loopback_host(host) and port == sandbox_port


class DatabaseSettings(BaseSettings):
    """All that `python -m app migrate` needs: a release job should not have to carry the
    gateway's service tokens and identity-provider settings."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    database_url: str = Field(default="sqlite+aiosqlite:///./var/gateway.db", repr=False)
    database_url_in: str | None = Field(default=None, repr=False)
    database_url_gb: str | None = Field(default=None, repr=False)

    @field_validator("database_url_in", "database_url_gb", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _supported(self) -> Self:
        problems = _check_database_urls(self.regional_database_urls(), self.database_url)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def regional_database_urls(self) -> dict[str, str]:
        """Jurisdiction (GB, IN) -> the database of its businesses' records."""
        return _regional(self.database_url, self.database_url_gb, self.database_url_in)


def _regional(default: str, gb: str | None, india: str | None) -> dict[str, str]:
    return {"GB": gb or default, "IN": india or default}


def _check_database_urls(regional: dict[str, str], default: str) -> list[str]:
    named = {"DATABASE_URL": default} | {f"DATABASE_URL_{j}": url for j, url in regional.items()}
    return [
        f"{name}: must start with one of " + ", ".join(SUPPORTED_DATABASE_DRIVERS)
        for name, url in named.items()
        if not url.startswith(SUPPORTED_DATABASE_DRIVERS)
    ]


def load_database_settings() -> DatabaseSettings:
    try:
        return DatabaseSettings()
    except ValidationError as exc:
        raise SettingsError("invalid settings: " + _describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    messages = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        messages.append(f"{location.upper()}: {message}" if location else message)
    return "; ".join(messages)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (overrides win), or SettingsError naming each problem."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError("invalid settings: " + _describe(exc)) from None
