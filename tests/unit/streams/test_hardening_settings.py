"""RATE_LIMIT, RATE_LIMIT_STORE, TRUSTED_PROXIES, CORS_ORIGINS, JWT_JWKS_URL: defaults, forms, errors naming the key."""

from __future__ import annotations

import ipaddress

import pytest

from streams.settings import DEFAULT_RATE_LIMITS, ConfigError, RateLimit, from_env


def test_rate_limits_are_on_by_default_with_limits_sized_for_people():
    settings = from_env({})
    assert settings.rate_limits == DEFAULT_RATE_LIMITS
    assert settings.rate_limits.writes == RateLimit(rate=10, burst=100)
    assert settings.rate_limits.reads.rate > settings.rate_limits.writes.rate
    assert settings.rate_limits.address.burst > settings.rate_limits.reads.burst
    assert settings.rate_limit_store == "memory"
    assert settings.trusted_proxies == () and settings.cors_origins == () and settings.jwt_jwks_url is None


@pytest.mark.parametrize("value", ["on", "ON", " ", ""])
def test_on_or_empty_means_the_defaults(value):
    assert from_env({"RATE_LIMIT": value}).rate_limits == DEFAULT_RATE_LIMITS


def test_off_disables_rate_limiting():
    assert from_env({"RATE_LIMIT": "off"}).rate_limits is None


def test_each_limit_can_be_set_and_the_others_keep_their_defaults():
    limits = from_env({"RATE_LIMIT": "writes=600/m:50, address=2/s"}).rate_limits
    assert limits.writes == RateLimit(rate=10, burst=50)
    assert limits.address == RateLimit(rate=2, burst=2)  # burst defaults to N
    assert limits.reads == DEFAULT_RATE_LIMITS.reads
    assert from_env({"RATE_LIMIT": "reads=3600/h:10"}).rate_limits.reads == RateLimit(rate=1, burst=10)
    assert str(DEFAULT_RATE_LIMITS.writes) == "10/s:100"


@pytest.mark.parametrize("value", [
    "lots", "writes", "writes=10", "writes=10/d", "writes=0/s", "writes=-1/s", "writes=nan/s", "writes=inf/s",
    "writes=10/s:0", "writes=10/s:1.5", "uploads=1/s", "writes=1/s,writes=2/s", "writes=1/s,,reads=1/s",
])
def test_a_malformed_rate_limit_names_the_key_and_shows_the_form(value):
    with pytest.raises(ConfigError, match="RATE_LIMIT") as raised:
        from_env({"RATE_LIMIT": value})
    assert "/s" in str(raised.value), "the message shows a working example"


def test_the_store_is_memory_or_postgres():
    assert from_env({"RATE_LIMIT_STORE": "Postgres"}).rate_limit_store == "postgres"
    with pytest.raises(ConfigError, match="RATE_LIMIT_STORE"):
        from_env({"RATE_LIMIT_STORE": "redis"})


def test_trusted_proxies_are_addresses_or_networks():
    settings = from_env({"TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.10 ,fc00::/7"})
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.168.1.10/32"), ipaddress.ip_network("fc00::/7"))
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES: 'ingress' is not an IP address"):
        from_env({"TRUSTED_PROXIES": "10.0.0.0/8,ingress"})


def test_cors_origins_are_exact_origins_normalised_as_browsers_send_them():
    settings = from_env({"CORS_ORIGINS": "https://App.Example.com:443, http://localhost:3000/,https://app.example.com"})
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:3000")


@pytest.mark.parametrize("value", ["*", "app.example.com", "https://app.example.com/path", "ftp://x.example.com",
                                   "https://user:pw@app.example.com", "https://app.example.com:port"])
def test_anything_but_an_origin_in_cors_origins_is_refused(value):
    with pytest.raises(ConfigError, match="CORS_ORIGINS"):
        from_env({"CORS_ORIGINS": value})


def test_the_jwks_url_must_be_http():
    assert from_env({"JWT_JWKS_URL": "https://login.example.com/jwks.json"}).jwt_jwks_url.endswith("jwks.json")
    with pytest.raises(ConfigError, match="JWT_JWKS_URL"):
        from_env({"JWT_JWKS_URL": "file:///etc/passwd"})
