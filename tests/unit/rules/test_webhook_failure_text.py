"""What a failed webhook attempt shows its owner: a refusal by address without the addresses."""

from __future__ import annotations

import aiohttp
from aiohttp.client_reqrep import ConnectionKey

from streams.rules.webhooks import NonPublicAddress, failure_text

KEY = ConnectionKey("hooks.example.com", 443, True, True, None, None, None)


def test_a_refused_resolution_wrapped_by_the_http_client_says_refused_without_addresses():
    inner = NonPublicAddress("refused to deliver to hooks.example.com: 10.0.0.5 is a private address")
    try:
        raise aiohttp.ClientConnectorDNSError(KEY, inner) from inner
    except aiohttp.ClientConnectorError as exc:
        text = failure_text(exc)
    assert text.startswith("refused: resolves to a non-public address") and "10.0.0.5" not in text


def test_other_failures_keep_their_type_and_message():
    assert failure_text(ConnectionRefusedError("connection refused")) == "ConnectionRefusedError: connection refused"
