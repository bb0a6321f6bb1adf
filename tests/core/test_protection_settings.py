"""Settings of the rate limits, the shared store and persisted queries: defaults, and
refusals that name the variable."""

from __future__ import annotations

import ipaddress

import pytest

from app.core.settings import Settings, SettingsError, load_settings
from tests.core.test_settings import PRODUCTION

NAMES = [
    *PRODUCTION,
    "redis_url",
    "trusted_proxies",
    "persisted_queries",
    "persisted_queries_manifest",
    "rate_limit_capacity",
    "rate_limit_refill_per_second",
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name.upper(), raising=False)


def production(**changes: object) -> Settings:
    return load_settings(**{**PRODUCTION, **changes})


def refusal(**changes: object) -> str:
    with pytest.raises(SettingsError) as raised:
        production(**changes)
    return str(raised.value)


def test_defaults() -> None:
    settings = production()

    assert (settings.rate_limit_capacity, settings.rate_limit_refill_per_second) == (1000, 10.0)
    assert (
        settings.rate_limit_unauthenticated_capacity,
        settings.rate_limit_unauthenticated_refill_per_second,
    ) == (30, 0.5)
    assert settings.rate_limit_max_keys == 100_000
    assert settings.rate_limit_key_prefix == "gateway:ratelimit:"
    assert settings.redis_url is None
    assert settings.redis_timeout_seconds == 0.25
    assert settings.trusted_proxies == ()
    assert settings.persisted_queries == "apq"
    assert settings.persisted_queries_manifest is None
    assert settings.persisted_queries_cache_size == 1000
    assert settings.persisted_queries_max_bytes == 16_384


def test_lists_and_empty_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("PERSISTED_QUERIES_MANIFEST", " ")

    settings = production()

    assert settings.trusted_proxies == ("10.0.0.0/8", "192.0.2.1")
    assert [ipaddress.ip_network(p) for p in settings.trusted_proxies]
    assert settings.redis_url is None
    assert settings.persisted_queries_manifest is None


def test_the_redis_url_is_kept_out_of_repr() -> None:
    settings = production(redis_url="rediss://:hunter2@cache.internal:6380/0")

    assert "hunter2" not in repr(settings)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"trusted_proxies": "10.0.0.0/8,proxy.internal"}, "TRUSTED_PROXIES: 'proxy.internal'"),
        ({"redis_url": "http://cache.internal"}, "REDIS_URL: must be a redis:// or rediss:// URL"),
        ({"redis_url": "redis://"}, "REDIS_URL: must be a redis:// or rediss:// URL"),
        (
            {"redis_url": "redis://cache.internal:6379/0"},
            "REDIS_URL: must be rediss:// in production (or loopback)",
        ),
        (
            {"persisted_queries": "required"},
            "PERSISTED_QUERIES_MANIFEST: required when PERSISTED_QUERIES=required",
        ),
        ({"persisted_queries": "on"}, "PERSISTED_QUERIES: Input should be 'off', 'apq' or"),
        ({"rate_limit_capacity": 0}, "RATE_LIMIT_CAPACITY: Input should be greater than"),
        ({"rate_limit_refill_per_second": 0}, "RATE_LIMIT_REFILL_PER_SECOND: Input should be"),
    ],
)
def test_unsafe_or_malformed_values_are_refused_by_name(
    changes: dict[str, object], message: str
) -> None:
    assert message in refusal(**changes)


def test_redis_in_clear_text_is_fine_on_loopback_and_in_development() -> None:
    assert production(redis_url="redis://127.0.0.1:6379/0").redis_url
    development = load_settings(app_env="development", redis_url="redis://cache.internal:6379")
    assert development.redis_url == "redis://cache.internal:6379"
