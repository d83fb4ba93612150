"""Webhooks never reach inside the network unless WEBHOOK_ALLOW_PRIVATE says so (SSRF)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from agents.webhooks import PublicOnlyResolver
from streams.rules.webhooks import UrlError, blocked_address, check_host
from streams.settings import ConfigError, from_env


@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.10", "private"),
    ("172.16.5.4", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("fd00::1", "private"), ("::ffff:127.0.0.1", "loopback"), ("0.0.0.0", "private"), ("100.64.0.1", "non-public"),
    ("224.0.0.1", "multicast"),
])
def test_non_public_addresses_are_blocked_and_say_what_they_are(address, kind):
    assert blocked_address(address) is not None
    assert kind in blocked_address(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "1.1.1.1"])
def test_public_addresses_pass(address):
    assert blocked_address(address) is None


@pytest.mark.parametrize("url", [
    "http://localhost:8080/hook", "http://LOCALHOST./hook", "http://api.localhost/hook", "http://127.0.0.1/x",
    "http://[::1]:9000/x", "http://169.254.169.254/latest/meta-data", "https://10.0.0.7/hook",
])
def test_urls_naming_this_machine_or_a_private_address_are_refused_with_the_way_out(url):
    with pytest.raises(UrlError, match="WEBHOOK_ALLOW_PRIVATE=true"):
        check_host(url)


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/taskstream",  # names are checked when they resolve, at each delivery
    "https://93.184.215.14/hook", "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8443/hook",
])
def test_urls_with_public_addresses_or_names_are_accepted_at_creation(url):
    from web.views.webhooks import webhook_body

    assert check_host(url) is None
    assert webhook_body({"url": url, "events": ["task.*"]})[0] == url, "created with the URL as given"


def test_a_name_that_resolves_only_to_private_addresses_is_refused_at_delivery():
    class Fixed(PublicOnlyResolver):
        def __init__(self, answers):
            self.answers = answers

        async def _lookup(self, host, port, family):
            return [{"hostname": host, "host": a, "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}
                    for a in self.answers]

    async def resolve(answers):
        resolver = Fixed(answers)
        resolver._inner = type("Inner", (), {"resolve": resolver._lookup})()
        return await resolver.resolve("hooks.example.com", 443)

    with pytest.raises(OSError, match="refused to deliver to hooks.example.com: 10.0.0.5 is a private address"):
        asyncio.run(resolve(["10.0.0.5"]))
    assert [r["host"] for r in asyncio.run(resolve(["10.0.0.5", "93.184.215.14"]))] == ["93.184.215.14"]


def test_the_setting_is_a_clear_boolean():
    assert from_env({}).webhook_allow_private is False
    assert from_env({"WEBHOOK_ALLOW_PRIVATE": "true"}).webhook_allow_private is True
    with pytest.raises(ConfigError, match="WEBHOOK_ALLOW_PRIVATE must be true or false"):
        from_env({"WEBHOOK_ALLOW_PRIVATE": "maybe"})


def test_creating_a_webhook_to_a_private_address_is_a_400_naming_the_url_unless_allowed():
    from web.errors import ValidationError
    from web.views.webhooks import webhook_body

    body = {"url": "http://10.0.0.7:8080/hook", "events": ["task.*"]}
    with pytest.raises(ValidationError) as refused:
        webhook_body(body)
    assert refused.value.details == {"field": "url"} and "10.0.0.7 is a private address" in refused.value.message
    assert webhook_body(body, allow_private=True)[0] == "http://10.0.0.7:8080/hook"
