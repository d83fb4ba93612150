"""The one settings object, built from the environment in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Every environment variable the application reads. The README table, the
#: Kustomize config and the Helm chart are checked against this list by tests.
CONFIG_KEYS: tuple[str, ...] = (
    "DATABASE_URL",
    "DATABASE_POOL_SIZE",
    "KAFKA_BROKER_URL",
    "KAFKA_PROFILE",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CAFILE",
    "JWT_SECRET",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "WEB_BIND",
    "WEB_PORT",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "TOPIC_PARTITIONS",
    "TOPIC_REPLICATION_FACTOR",
    "TOPIC_RETENTION_HOURS",
    "DATA_DIR",
    "SMTP_URL",
)

#: Keys whose values are secrets: never logged, never echoed in errors.
SECRET_KEYS = frozenset({"DATABASE_URL", "JWT_SECRET", "KAFKA_SASL_PASSWORD", "SMTP_URL"})

KAFKA_PROFILES = ("kafka", "embedded")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("json", "console")


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the key."""


@dataclass(frozen=True)
class Settings:
    database_url: str = field(repr=False)
    database_pool_size: int
    kafka_broker_url: str
    kafka_profile: str
    kafka_security_protocol: str
    kafka_sasl_mechanism: str
    kafka_sasl_username: str | None
    kafka_sasl_password: str | None = field(repr=False)
    kafka_ssl_cafile: str | None
    jwt_secret: str | None = field(repr=False)
    jwt_issuer: str | None
    jwt_audience: str | None
    web_bind: str
    web_port: int
    log_level: str
    log_format: str
    topic_partitions: int
    topic_replication_factor: int
    topic_retention_hours: int
    data_dir: str
    #: smtp://user:pass@host:port?from=addr (smtps:// for TLS); reminders go by email only when set.
    smtp_url: str | None = field(default=None, repr=False)

    @property
    def embedded_broker(self) -> bool:
        return self.kafka_profile == "embedded"

    @property
    def topic_retention_ms(self) -> int:
        return self.topic_retention_hours * 3600 * 1000


def _int(env: Mapping[str, str], key: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key} must be a whole number, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigError(f"{key} must be {bound}, got {value}")
    return value


def _choice(env: Mapping[str, str], key: str, default: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
    raw = env.get(key, "").strip() or default
    value = raw.upper() if upper else raw.lower()
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}; got {raw!r}")
    return value


def _optional(env: Mapping[str, str], key: str) -> str | None:
    value = env.get(key, "").strip()
    return value or None


def normalize_database_url(url: str) -> str:
    """Accept the URL forms operators paste and return one asyncpg understands.

    `postgres://` and `postgresql://` get the asyncpg driver; libpq's
    `sslmode=` becomes asyncpg's `ssl=` so managed databases' URLs work as given.
    """
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme in ("postgres", "postgresql"):
        scheme = "postgresql+asyncpg"
    elif scheme != "postgresql+asyncpg":
        raise ConfigError("DATABASE_URL must start with postgresql:// (or postgres://, postgresql+asyncpg://)")
    query = [("ssl", v) if k == "sslmode" else (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _smtp_url(env: Mapping[str, str]) -> str | None:
    value = _optional(env, "SMTP_URL")
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        # The value itself may hold a password: name the key, never echo it.
        raise ConfigError("SMTP_URL must look like smtp://user:password@host:587 (or smtps:// for TLS)")
    try:
        parts.port
    except ValueError:
        raise ConfigError("SMTP_URL has a port that is not a number") from None
    return value


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment (or a given mapping, for tests)."""
    env = os.environ if env is None else env
    database_url = env.get("DATABASE_URL", "").strip() or "postgresql+asyncpg://postgres@127.0.0.1:5432/taskstream"
    security_protocol = _choice(env, "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", SECURITY_PROTOCOLS, upper=True)
    sasl_username = _optional(env, "KAFKA_SASL_USERNAME")
    sasl_password = _optional(env, "KAFKA_SASL_PASSWORD")
    if security_protocol.startswith("SASL_") and not (sasl_username and sasl_password):
        raise ConfigError(
            f"KAFKA_SECURITY_PROTOCOL={security_protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
        )
    return Settings(
        database_url=normalize_database_url(database_url),
        database_pool_size=_int(env, "DATABASE_POOL_SIZE", 10, minimum=1, maximum=200),
        kafka_broker_url=env.get("KAFKA_BROKER_URL", "").strip() or "kafka://127.0.0.1:9092",
        kafka_profile=_choice(env, "KAFKA_PROFILE", "kafka", KAFKA_PROFILES),
        kafka_security_protocol=security_protocol,
        kafka_sasl_mechanism=_choice(env, "KAFKA_SASL_MECHANISM", "PLAIN", SASL_MECHANISMS, upper=True),
        kafka_sasl_username=sasl_username,
        kafka_sasl_password=sasl_password,
        kafka_ssl_cafile=_optional(env, "KAFKA_SSL_CAFILE"),
        jwt_secret=_optional(env, "JWT_SECRET"),
        jwt_issuer=_optional(env, "JWT_ISSUER"),
        jwt_audience=_optional(env, "JWT_AUDIENCE"),
        web_bind=env.get("WEB_BIND", "").strip() or "0.0.0.0",
        web_port=_int(env, "WEB_PORT", 6066, minimum=1, maximum=65535),
        log_level=_choice(env, "LOG_LEVEL", "info", LOG_LEVELS),
        log_format=_choice(env, "LOG_FORMAT", "json", LOG_FORMATS),
        topic_partitions=_int(env, "TOPIC_PARTITIONS", 4, minimum=1, maximum=1000),
        topic_replication_factor=_int(env, "TOPIC_REPLICATION_FACTOR", 1, minimum=1, maximum=10),
        topic_retention_hours=_int(env, "TOPIC_RETENTION_HOURS", 168, minimum=1),
        data_dir=env.get("DATA_DIR", "").strip() or ".taskstream",
        smtp_url=_smtp_url(env),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return from_env()
