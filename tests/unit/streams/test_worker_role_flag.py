"""WORKER_ROLE and `taskstream worker --role`: what each role imports, and how the flag is read."""

from __future__ import annotations

import pytest

from streams.roles import MODULES, apply_role_flag, discovery_modules, role_flag
from streams.settings import WORKER_ROLES, ConfigError, from_env


def test_the_role_defaults_to_all_and_a_bad_one_names_the_key_and_the_choices():
    assert from_env({}).worker_role == "all"
    assert from_env({"WORKER_ROLE": " Stream "}).worker_role == "stream"
    with pytest.raises(ConfigError, match="WORKER_ROLE must be one of all, web, stream"):
        from_env({"WORKER_ROLE": "api"})


def test_every_role_has_its_modules_and_only_all_runs_both_sides():
    assert set(MODULES) == set(WORKER_ROLES)
    assert set(MODULES["all"]) == {"agents", "tables", "web"}
    # web: the whole HTTP side and the relay, none of the agents or tables.
    assert "web" in MODULES["web"] and not {"agents", "tables"} & set(MODULES["web"])
    assert "agents.outbox_relay" in MODULES["web"]
    # stream: agents and tables; of the web package only the probes, the metrics and the middleware.
    assert {"agents", "tables"} <= set(MODULES["stream"]) and "web" not in MODULES["stream"]
    assert {m for m in MODULES["stream"] if m.startswith("web.")} == {
        "web.startup", "web.views.health", "web.views.metrics"}
    assert all(discovery_modules(role)[0] == "streams.cli.commands" for role in WORKER_ROLES)


@pytest.mark.parametrize("argv,expected", [
    (["taskstream", "worker", "-l", "info", "--role", "web"], "web"),
    (["taskstream", "worker", "--role=stream"], "stream"),
    (["taskstream", "worker", "-l", "info"], None),
    # Another command's --role, or one after `--`, is not the worker's.
    (["taskstream", "token", "--role", "web"], None),
    (["taskstream", "worker", "--", "--role", "web"], None),
])
def test_the_role_flag_is_read_from_the_worker_command_line(argv, expected):
    assert role_flag(argv) == expected


def test_the_role_flag_sets_worker_role_and_a_bad_or_missing_value_is_a_clear_error():
    env: dict[str, str] = {"WORKER_ROLE": "all"}
    apply_role_flag(["taskstream", "worker", "--role", "WEB"], env)
    assert env["WORKER_ROLE"] == "web"
    apply_role_flag(["taskstream", "worker"], env)
    assert env["WORKER_ROLE"] == "web"  # no flag: the environment's value stands
    with pytest.raises(ConfigError, match="--role must be one of all, web, stream; got 'api'"):
        apply_role_flag(["taskstream", "worker", "--role", "api"], env)
    with pytest.raises(ConfigError, match="--role needs a value"):
        apply_role_flag(["taskstream", "worker", "--role"], env)
