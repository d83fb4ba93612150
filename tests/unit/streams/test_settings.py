"""Settings come from the environment, with clear errors naming the key and secrets kept out of repr."""

from __future__ import annotations

import pytest

from streams.kafka import bootstrap_servers
from streams.settings import CONFIG_KEYS, ConfigError, from_env, normalize_database_url


def test_defaults_work_with_an_empty_environment():
    settings = from_env({})
    assert settings.web_port == 6066 and settings.topic_partitions == 4
    assert settings.kafka_profile == "kafka" and not settings.embedded_broker
    assert settings.database_url.startswith("postgresql+asyncpg://")


@pytest.mark.parametrize("key,value", [
    ("WEB_PORT", "http"), ("WEB_PORT", "70000"), ("TOPIC_PARTITIONS", "0"), ("LOG_LEVEL", "chatty"),
    ("KAFKA_PROFILE", "redpanda-ish"), ("KAFKA_SECURITY_PROTOCOL", "TLS"), ("DATABASE_URL", "mysql://x/y"),
    ("MAX_IN_FLIGHT", "-1"), ("MAX_IN_FLIGHT", "lots"),
])
def test_a_bad_value_names_its_key(key, value):
    with pytest.raises(ConfigError, match=key):
        from_env({key: value})


def test_max_in_flight_defaults_to_a_cap_and_0_turns_it_off():
    assert from_env({}).max_in_flight == 256
    assert from_env({"MAX_IN_FLIGHT": "0"}).max_in_flight == 0
    assert from_env({"MAX_IN_FLIGHT": " 32 "}).max_in_flight == 32


def test_sasl_needs_username_and_password():
    with pytest.raises(ConfigError, match="KAFKA_SASL_USERNAME"):
        from_env({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    settings = from_env({"KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "KAFKA_SASL_USERNAME": "u",
                         "KAFKA_SASL_PASSWORD": "p4ss", "KAFKA_SASL_MECHANISM": "scram-sha-512"})
    assert (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")


def test_secrets_never_appear_in_the_settings_repr():
    settings = from_env({"DATABASE_URL": "postgresql://u:dbpass@h/d", "JWT_SECRET": "jwtsecret",
                         "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "u",
                         "KAFKA_SASL_PASSWORD": "saslpass"})
    text = repr(settings)
    assert "dbpass" not in text and "jwtsecret" not in text and "saslpass" not in text


def test_database_urls_from_managed_providers_are_normalised_for_asyncpg():
    assert normalize_database_url("postgres://u:p@h:25060/db?sslmode=require") == (
        "postgresql+asyncpg://u:p@h:25060/db?ssl=require")
    assert normalize_database_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"


def test_broker_urls_in_faust_and_kafka_forms():
    assert bootstrap_servers("kafka://a:9092;b:9093") == ["a:9092", "b:9093"]
    assert bootstrap_servers("a:9092, b:9093") == ["a:9092", "b:9093"]
    with pytest.raises(ValueError):
        bootstrap_servers(" ")


def test_every_config_key_is_documented_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1]
    missing = [key for key in CONFIG_KEYS if f"`{key}`" not in table]
    assert not missing, f"README configuration table lacks {missing}"
