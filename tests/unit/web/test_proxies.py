"""The public origin a feed URL names: forwarded scheme and host only from a trusted proxy, and only sane ones."""

from __future__ import annotations

import ipaddress

import pytest

from web.proxies import public_origin

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"),)
OWN = {"scheme": "http", "host": "pod:6066"}


@pytest.mark.parametrize("peer, headers, expected", [
    ("203.0.113.9", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}, "http://pod:6066"),
    ("10.1.2.3", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "tasks.example"}, "https://tasks.example"),
    ("10.1.2.3", {"X-Forwarded-Proto": "HTTPS, http", "X-Forwarded-Host": "tasks.example:8443, pod"},
     "https://tasks.example:8443"),
    ("10.1.2.3", {"X-Forwarded-Host": "[2001:db8::1]:443"}, "http://[2001:db8::1]:443"),
    ("10.1.2.3", {"X-Forwarded-Proto": "ftp", "X-Forwarded-Host": "evil.example/path"}, "http://pod:6066"),
    ("10.1.2.3", {"X-Forwarded-Host": "user@evil.example"}, "http://pod:6066"),
    ("10.1.2.3", {}, "http://pod:6066"),
    (None, {"X-Forwarded-Proto": "https"}, "http://pod:6066"),
])
def test_public_origin(peer, headers, expected):
    assert public_origin(peer, headers, TRUSTED, **OWN) == expected


def test_nothing_is_believed_without_trusted_proxies():
    assert public_origin("10.1.2.3", {"X-Forwarded-Proto": "https"}, (), **OWN) == "http://pod:6066"
