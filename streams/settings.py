"""The one settings object, built from the environment in one place."""

from __future__ import annotations

import ipaddress
import math
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
    "DATABASE_STATEMENT_TIMEOUT_MS",
    "DATABASE_CONNECT_TIMEOUT_MS",
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
    "RATE_LIMIT",
    "RATE_LIMIT_STORE",
    "TRUSTED_PROXIES",
    "CORS_ORIGINS",
    "JWT_JWKS_URL",
    "WEBHOOK_ALLOW_PRIVATE",
    "WORKER_ROLE",
    "MAX_IN_FLIGHT",
)

#: Keys whose values are secrets: never logged, never echoed in errors.
SECRET_KEYS = frozenset({"DATABASE_URL", "JWT_SECRET", "KAFKA_SASL_PASSWORD", "SMTP_URL"})

KAFKA_PROFILES = ("kafka", "embedded")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("json", "console")
RATE_LIMIT_STORES = ("memory", "postgres")
#: What a worker runs (streams/roles.py): everything, the HTTP side, or the stream side.
WORKER_ROLES = ("all", "web", "stream")
#: RATE_LIMIT units: requests per second, minute or hour.
RATE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
RATE_LIMIT_EXAMPLE = "writes=10/s:100,reads=50/s:300,address=60/s:400"
#: Where `taskstream dev` keeps its data and dev.json, and where the other commands look for them.
DEFAULT_DATA_DIR = ".taskstream"


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the key."""


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: up to `burst` requests at once, refilled at `rate` requests per second."""

    rate: float
    burst: int

    @property
    def window(self) -> int:
        """Seconds an empty bucket takes to fill again (the `w` of the RateLimit-Policy header)."""
        return max(1, math.ceil(self.burst / self.rate))

    def __str__(self) -> str:
        return f"{self.rate:g}/s:{self.burst}"


@dataclass(frozen=True)
class RateLimits:
    """Per user: writes (POST/PUT/PATCH/DELETE) and reads on /api; per client address: every request."""

    writes: RateLimit
    reads: RateLimit
    address: RateLimit


#: Sized for people: a burst of 100 writes (an import, a bulk edit) then 10 a second; reads more
#: generous (a dashboard fetches several lists at once); per address one user's reads and writes
#: together, so a single person never hits the address limit before their own.
DEFAULT_RATE_LIMITS = RateLimits(writes=RateLimit(10, 100), reads=RateLimit(50, 300), address=RateLimit(60, 400))

#: Enough for a worker's database pool to stay busy with a queue behind it, few enough that a worker past
#: its capacity answers 503 at once instead of making every client wait out its timeout.
DEFAULT_MAX_IN_FLIGHT = 256

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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
    #: A statement running longer is cancelled by the server (0: no limit); a request that hits it gets a 503.
    database_statement_timeout_ms: int = 5000
    #: How long a request waits for a connection: a new one to the server, or a free one from the pool.
    database_connect_timeout_ms: int = 5000
    #: smtp://user:pass@host:port?from=addr (smtps:// for TLS); reminders go by email only when set.
    smtp_url: str | None = field(default=None, repr=False)
    #: None: no rate limiting (RATE_LIMIT=off, for benchmarks).
    rate_limits: RateLimits | None = DEFAULT_RATE_LIMITS
    rate_limit_store: str = "memory"
    #: Peers whose X-Forwarded-For is believed (the load balancer / ingress controller).
    trusted_proxies: tuple[IpNetwork, ...] = ()
    #: Exact origins (scheme://host[:port]) allowed to call the API from a browser; empty: no CORS.
    cors_origins: tuple[str, ...] = ()
    #: When set, RS256 tokens are verified against this JSON Web Key Set.
    jwt_jwks_url: str | None = None
    #: Webhooks may target loopback, private and link-local addresses (local development only).
    webhook_allow_private: bool = False
    #: all: HTTP, WebSockets and the stream agents in one process; web or stream: one side only.
    worker_role: str = "all"
    #: HTTP requests one worker serves at once; past it a request is answered 503 at once (0: no cap).
    #: The probes, /metrics and WebSockets are not counted.
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT

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


def _flag(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, got {raw!r}")


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


def _rate_limits(env: Mapping[str, str]) -> RateLimits | None:
    """RATE_LIMIT: empty or `on` for the defaults, `off` for none, or `name=N/unit[:burst],...`
    where name is writes, reads or address, unit is s, m or h, and burst defaults to N.
    Names left out keep their defaults."""
    raw = env.get("RATE_LIMIT", "").strip()
    if raw.lower() in ("", "on"):
        return DEFAULT_RATE_LIMITS
    if raw.lower() == "off":
        return None
    names = ("writes", "reads", "address")
    limits = {name: getattr(DEFAULT_RATE_LIMITS, name) for name in names}
    seen: set[str] = set()
    for item in (part.strip() for part in raw.split(",")):
        name, equals, spec = (piece.strip() for piece in item.partition("="))
        if not equals or name not in names:
            raise ConfigError(
                f"RATE_LIMIT: {item!r} must be name=N/unit[:burst] with name one of {', '.join(names)} "
                f"(e.g. {RATE_LIMIT_EXAMPLE}), or 'off'"
            )
        if name in seen:
            raise ConfigError(
                f"RATE_LIMIT names {name} twice; give each of {', '.join(names)} at most once "
                f"(e.g. {RATE_LIMIT_EXAMPLE})"
            )
        seen.add(name)
        amount, slash, rest = spec.partition("/")
        unit, colon, burst = rest.partition(":")
        try:
            count = float(amount)
            burst_count = int(burst) if colon else math.ceil(count)
        except (ValueError, OverflowError):
            count, burst_count = math.nan, 0
        if not slash or unit.strip() not in RATE_UNITS or not count > 0 or math.isinf(count) or burst_count < 1:
            raise ConfigError(
                f"RATE_LIMIT: {name}={spec!r} must be N/unit[:burst] with N > 0, unit s, m or h and a whole "
                f"burst of at least 1 (e.g. {name}={limits[name]})"
            )
        limits[name] = RateLimit(rate=count / RATE_UNITS[unit.strip()], burst=burst_count)
    return RateLimits(**limits)


def _trusted_proxies(env: Mapping[str, str]) -> tuple[IpNetwork, ...]:
    networks = []
    for item in (part.strip() for part in env.get("TRUSTED_PROXIES", "").split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"TRUSTED_PROXIES: {item!r} is not an IP address or network; list your proxies' addresses "
                "or networks, comma-separated (e.g. 10.0.0.0/8,192.168.1.10)"
            ) from None
    return tuple(networks)


def normalize_origin(value: str) -> str | None:
    """`scheme://host[:port]` as browsers send it in Origin (lower case, no default port), or None."""
    parts = urlsplit(value.strip())
    try:
        port = parts.port
    except ValueError:
        return None
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password
            or parts.path not in ("", "/") or parts.query or parts.fragment):
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def _cors_origins(env: Mapping[str, str]) -> tuple[str, ...]:
    origins = []
    for item in (part.strip() for part in env.get("CORS_ORIGINS", "").split(",")):
        if not item:
            continue
        origin = normalize_origin(item)
        if origin is None:
            raise ConfigError(
                f"CORS_ORIGINS: {item!r} is not an origin; list exact origins, comma-separated, as "
                "scheme://host[:port] without a path (e.g. https://app.example.com); '*' is not supported"
            )
        origins.append(origin)
    return tuple(dict.fromkeys(origins))


def _jwks_url(env: Mapping[str, str]) -> str | None:
    value = _optional(env, "JWT_JWKS_URL")
    if value is not None:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"JWT_JWKS_URL must be an http(s) URL of a JSON Web Key Set "
                f"(e.g. https://login.example.com/.well-known/jwks.json), got {value!r}"
            )
    return value


def dev_data_dir(env: Mapping[str, str], given: str | None = None) -> str:
    """The dev data folder: a command's --data-dir, else DATA_DIR, else .taskstream (in the current folder).

    `taskstream dev` and the commands that find it (token, topics, seed, migrate, mcp) all ask here, so
    one DATA_DIR (or the same --data-dir) points them at the same folder."""
    return (given or "").strip() or env.get("DATA_DIR", "").strip() or DEFAULT_DATA_DIR


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
        database_statement_timeout_ms=_int(env, "DATABASE_STATEMENT_TIMEOUT_MS", 5000, minimum=0, maximum=3_600_000),
        database_connect_timeout_ms=_int(env, "DATABASE_CONNECT_TIMEOUT_MS", 5000, minimum=100, maximum=600_000),
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
        data_dir=dev_data_dir(env),
        smtp_url=_smtp_url(env),
        rate_limits=_rate_limits(env),
        rate_limit_store=_choice(env, "RATE_LIMIT_STORE", "memory", RATE_LIMIT_STORES),
        trusted_proxies=_trusted_proxies(env),
        cors_origins=_cors_origins(env),
        jwt_jwks_url=_jwks_url(env),
        webhook_allow_private=_flag(env, "WEBHOOK_ALLOW_PRIVATE", False),
        worker_role=_choice(env, "WORKER_ROLE", "all", WORKER_ROLES),
        max_in_flight=_int(env, "MAX_IN_FLIGHT", DEFAULT_MAX_IN_FLIGHT, minimum=0, maximum=1_000_000),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return from_env()
