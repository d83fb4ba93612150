"""Schemathesis hooks for test_api_fuzz.py (loaded through SCHEMATHESIS_HOOKS): keep the fuzzer on this machine.

A webhook the fuzzer creates is called by every worker's dispatcher on each matching event, so a generated
URL naming some other host would send traffic off the machine. Before each call, the host of a webhook
URL the server would accept is replaced by a closed loopback port; URLs it rejects stay as generated, so
invalid input is still fuzzed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import schemathesis

#: The discard port on loopback: nothing listens, a delivery fails at once and is retried with backoff.
LOOPBACK = "127.0.0.1:9"


def confined(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return url
    except ValueError:
        return url
    userinfo = parts.netloc.rpartition("@")[0]  # kept: credentials in the URL are refused, and fuzzed as such
    netloc = f"{userinfo}@{LOOPBACK}" if userinfo else LOOPBACK
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    creates_webhook = case.operation.path == "/api/webhooks" and case.method.upper() == "POST"
    if creates_webhook and isinstance(case.body, dict) and isinstance(case.body.get("url"), str):
        case.body = {**case.body, "url": confined(case.body["url"])}
