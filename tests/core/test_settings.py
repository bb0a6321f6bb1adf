"""Settings: development defaults, and the production guards that refuse to start."""

from __future__ import annotations

import pytest

from app.core.settings import (
    DEV_JWKS_URL,
    SANDBOX_INVOICING_TOKEN,
    SANDBOX_INVOICING_URL,
    Settings,
    SettingsError,
    load_settings,
)

PRODUCTION = {
    "app_env": "production",
    "database_url": "postgresql+asyncpg://gateway@db.internal/gateway",
    "invoicing_url": "https://invoicing.internal",
    "invoicing_token": "inv-secret-0123456789",
    "payments_url": "https://payments.internal",
    "payments_token": "pay-secret-0123456789",
    "jwt_issuer": "https://id.example.com/",
    "jwt_audience": "fintech-gateway",
    "jwt_jwks_url": "https://id.example.com/.well-known/jwks.json",
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's shell must not leak into what these tests prove.
    for name in [
        *PRODUCTION,
        "jwt_algorithms",
        "jwt_dev_secret",
        "cors_origins",
        "graphiql_enabled",
        "graphiql_demo_token",
    ]:
        monkeypatch.delenv(name.upper(), raising=False)


def production(**changes: object) -> Settings:
    return load_settings(**{**PRODUCTION, **changes})


def test_a_complete_production_environment_loads() -> None:
    settings = production()

    assert settings.app_env == "production"
    assert settings.jwt_algorithms == ("RS256", "ES256")
    assert settings.jwt_leeway_seconds == 30
    assert settings.request_timeout_seconds == 10
    assert settings.graphiql is False


def test_production_is_the_default_environment_and_has_no_downstream_defaults() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings()

    message = str(raised.value)
    for name in (
        "INVOICING_URL",
        "INVOICING_TOKEN",
        "PAYMENTS_URL",
        "PAYMENTS_TOKEN",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "JWT_JWKS_URL",
    ):
        assert f"{name}: required" in message


def test_development_defaults_point_at_the_local_sandbox() -> None:
    settings = load_settings(app_env="development")

    assert settings.invoicing_url == SANDBOX_INVOICING_URL
    assert settings.jwt_jwks_url == DEV_JWKS_URL
    assert settings.graphiql is True
    assert settings.database_url == "sqlite+aiosqlite:///./var/gateway.db"


def test_environment_variables_are_read_with_the_contract_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("JWT_ALGORITHMS", " RS256 , ES256 ")
    monkeypatch.setenv("CORS_ORIGINS", "https://app.example.com,https://m.example.com")
    monkeypatch.setenv("REQUEST_TIMEOUT_SECONDS", "3.5")

    settings = load_settings()

    assert settings.jwt_algorithms == ("RS256", "ES256")
    assert settings.cors_origins == ("https://app.example.com", "https://m.example.com")
    assert str(settings.request_timeout_seconds) == "3.5"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"jwt_dev_secret": "s" * 32}, "JWT_DEV_SECRET: must not be set in production"),
        (
            {"graphiql_enabled": "true", "graphiql_demo_token": "eyJhbGciOiJSUzI1NiJ9.e30.x"},
            "GRAPHIQL_DEMO_TOKEN: must not be set in production",
        ),
        (
            {"jwt_algorithms": "RS256,HS256", "jwt_dev_secret": "s" * 32},
            "JWT_ALGORITHMS: not allowed here: HS256",
        ),
        ({"jwt_algorithms": "none"}, "JWT_ALGORITHMS: not allowed here: none"),
        ({"jwt_algorithms": ""}, "JWT_ALGORITHMS: at least one algorithm is required"),
        (
            {"jwt_jwks_url": "http://id.example.com/jwks.json"},
            "JWT_JWKS_URL: must be https:// in production (or loopback)",
        ),
        (
            {"invoicing_url": SANDBOX_INVOICING_URL},
            "INVOICING_URL: points at the development sandbox",
        ),
        (
            {"payments_url": "http://localhost:8102/"},
            "PAYMENTS_URL: points at the development sandbox",
        ),
        ({"jwt_jwks_url": DEV_JWKS_URL}, "JWT_JWKS_URL: points at the development sandbox"),
        (
            {"invoicing_token": SANDBOX_INVOICING_TOKEN},
            "INVOICING_TOKEN: is the public sandbox token",
        ),
        (
            {"jwt_issuer": "http://127.0.0.1:8100"},
            "JWT_ISSUER: is the development identity provider",
        ),
        ({"database_url": "mysql://db/x"}, "DATABASE_URL: must start with one of"),
        ({"invoicing_url": "ftp://files.internal"}, "INVOICING_URL: must be an http(s) URL"),
        ({"cors_origins": "*"}, "CORS_ORIGINS: '*' is not an http(s) origin"),
        (
            {"request_timeout_seconds": "0"},
            "REQUEST_TIMEOUT_SECONDS: Input should be greater than 0",
        ),
        ({"jwt_leeway_seconds": "3600"}, "JWT_LEEWAY_SECONDS: Input should be less than or equal"),
        ({"app_env": "staging"}, "APP_ENV: Input should be 'development' or 'production'"),
        ({"invoicing_token": "  "}, "INVOICING_TOKEN: required"),
    ],
)
def test_production_refuses_unsafe_settings_and_names_the_setting(
    changes: dict[str, object], expected: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        production(**changes)

    assert expected in str(raised.value)


@pytest.mark.parametrize(
    "jwks_url",
    [
        "http://127.0.0.1:9999/jwks.json",
        "http://127.8.9.10:9999/jwks.json",
        "http://localhost:9999/jwks.json",
        "http://[::1]:9999/jwks.json",
    ],
)
def test_production_allows_a_plain_http_jwks_url_only_on_loopback(jwks_url: str) -> None:
    assert production(jwt_jwks_url=jwks_url).jwt_jwks_url == jwks_url


def test_a_lookalike_loopback_name_is_not_loopback() -> None:
    with pytest.raises(SettingsError, match="JWT_JWKS_URL: must be https://"):
        production(jwt_jwks_url="http://127.0.0.1.evil.example/jwks.json")


def test_development_allows_hs256_only_with_a_dev_secret() -> None:
    with pytest.raises(SettingsError, match="JWT_DEV_SECRET: required when JWT_ALGORITHMS"):
        load_settings(app_env="development", jwt_algorithms="RS256,HS256")

    with pytest.raises(SettingsError, match="JWT_DEV_SECRET: must be at least 32 bytes"):
        load_settings(app_env="development", jwt_algorithms="RS256,HS256", jwt_dev_secret="short")

    settings = load_settings(
        app_env="development", jwt_algorithms="RS256,HS256", jwt_dev_secret="d" * 32
    )
    assert settings.jwt_algorithms == ("RS256", "HS256")


def test_graphiql_can_be_enabled_explicitly_in_production() -> None:
    assert production(graphiql_enabled="true").graphiql is True


def test_secrets_do_not_appear_in_the_settings_repr() -> None:
    settings = production(database_url="postgresql+asyncpg://gw:S3cretPw@db.internal/gw")

    assert "pay-secret-0123456789" not in repr(settings)
    assert "S3cretPw" not in repr(settings)


def test_a_loopback_downstream_may_be_plain_http_in_production() -> None:
    # A sidecar proxy on the same machine terminates TLS for the real service.
    assert (
        production(invoicing_url="http://127.0.0.1:9001").invoicing_url == "http://127.0.0.1:9001"
    )


LIMIT_SETTINGS = {
    # name: (field, default, another allowed value)
    "GRAPHQL_MAX_DEPTH": ("graphql_max_depth", 12, 20),
    "GRAPHQL_MAX_ALIASES": ("graphql_max_aliases", 30, 5),
    "GRAPHQL_MAX_TOKENS": ("graphql_max_tokens", 2000, 5000),
    "GRAPHQL_MAX_DIRECTIVES": ("graphql_max_directives", 50, 10),
    "GRAPHQL_MAX_COST": ("graphql_max_cost", 500, 1000),
    "GRAPHQL_MAX_FIELDS": ("graphql_max_fields", 500, 800),
    "GRAPHQL_MAX_REPEATED_FIELDS": ("graphql_max_repeated_fields", 20, 8),
    "GRAPHQL_INTROSPECTION_COST": ("graphql_introspection_cost", 200, 50),
    "GRAPHQL_MAX_ERRORS": ("graphql_max_errors", 10, 20),
    "GRAPHQL_MAX_BATCH": ("graphql_max_batch", 0, 5),
    "MAX_BODY_BYTES": ("max_body_bytes", 1_048_576, 65_536),
}


def test_the_request_limits_have_the_readmes_defaults() -> None:
    settings = production()

    assert {name: getattr(settings, spec[0]) for name, spec in LIMIT_SETTINGS.items()} == {
        name: spec[1] for name, spec in LIMIT_SETTINGS.items()
    }


@pytest.mark.parametrize("name", list(LIMIT_SETTINGS))
def test_each_request_limit_is_read_from_its_environment_variable(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    field, _, other = LIMIT_SETTINGS[name]
    monkeypatch.setenv(name, str(other))

    assert getattr(production(), field) == other


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"graphql_max_batch": 21}, "GRAPHQL_MAX_BATCH"),
        ({"graphql_max_depth": 0}, "GRAPHQL_MAX_DEPTH"),
        ({"graphql_max_tokens": 99}, "GRAPHQL_MAX_TOKENS"),
        ({"graphql_max_errors": 0}, "GRAPHQL_MAX_ERRORS"),
        ({"graphql_max_fields": 5}, "GRAPHQL_MAX_FIELDS"),
        ({"graphql_max_repeated_fields": 0}, "GRAPHQL_MAX_REPEATED_FIELDS"),
        ({"graphql_introspection_cost": 0}, "GRAPHQL_INTROSPECTION_COST"),
        ({"max_body_bytes": 100}, "MAX_BODY_BYTES"),
    ],
)
def test_a_request_limit_out_of_its_range_is_refused_by_name(
    changes: dict[str, object], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        production(**changes)
