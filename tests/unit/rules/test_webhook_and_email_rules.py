"""Webhook and email rules: patterns, signatures, backoff with jitter, SMTP_URL and message rendering."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import timedelta

import pytest

from streams.rules.email import parse_smtp_url, render, valid_address
from streams.rules.webhooks import (
    BACKOFF_CAP,
    PatternError,
    UrlError,
    backoff,
    matches,
    parse_patterns,
    parse_url,
    sign,
    verify,
)


def test_patterns_are_normalised_and_matched_by_family_or_name():
    patterns = parse_patterns(["Task.*", "reminder.fired", "task.*"])
    assert patterns == ["task.*", "reminder.fired"]
    assert matches(patterns, "task.deleted") and matches(patterns, "reminder.fired")
    assert not matches(["reminder.*"], "task.created")
    assert matches(["*"], "task.updated")


@pytest.mark.parametrize("value", [[], "task.*", ["task"], ["task.exploded"], ["user.*"], [3]])
def test_unknown_patterns_are_refused(value):
    with pytest.raises(PatternError):
        parse_patterns(value)


@pytest.mark.parametrize("value", ["ftp://h/x", "http://", "h/x", "http://u:p@h/x", 5])
def test_only_plain_http_and_https_urls_are_accepted(value):
    with pytest.raises(UrlError):
        parse_url(value)


def test_the_signature_is_hmac_sha256_of_the_raw_body_in_hex():
    body = b'{"event":"task.created"}'
    expected = hmac.new(b"s3cret-s3cret-s3cret", body, hashlib.sha256).hexdigest()
    assert sign("s3cret-s3cret-s3cret", body) == f"sha256={expected}"
    assert verify("s3cret-s3cret-s3cret", body, f"sha256={expected}")
    assert not verify("s3cret-s3cret-s3cret", body + b" ", f"sha256={expected}")


def test_backoff_doubles_with_jitter_and_is_capped():
    rng = random.Random(7)
    for attempts in range(1, 8):
        wait = backoff(attempts, rng)
        ceiling = timedelta(seconds=2 ** (attempts - 1))
        assert ceiling / 2 <= wait <= ceiling
    assert backoff(40, rng) <= BACKOFF_CAP
    assert len({backoff(3, rng) for _ in range(20)}) > 1, "jitter spreads retries"


def test_smtp_urls_give_host_port_tls_credentials_and_sender():
    plain = parse_smtp_url("smtp://ada:p%40ss@mail.example.com:587?from=reminders@example.com")
    assert (plain.host, plain.port, plain.use_tls, plain.username, plain.password, plain.sender) == (
        "mail.example.com", 587, False, "ada", "p@ss", "reminders@example.com")
    tls = parse_smtp_url("smtps://mail.example.com")
    assert (tls.port, tls.use_tls, tls.sender) == (465, True, "taskstream@mail.example.com")
    assert "p@ss" not in repr(plain), "the password is never printed"
    with pytest.raises(ValueError):
        parse_smtp_url("http://mail.example.com")


def test_emails_have_a_text_and_an_escaped_html_part():
    subject, text, page = render("3 tasks due at 17:00 UTC", "- <b>one</b>\n- two\n- three\n(delivered 3 min late)")
    assert subject == "3 tasks due at 17:00 UTC"
    assert "- <b>one</b>" in text
    assert "<li>&lt;b&gt;one&lt;/b&gt;</li>" in page and "<p>(delivered 3 min late)</p>" in page


@pytest.mark.parametrize("value, ok", [("ada@example.com", True), ("a@localhost", True), ("nope", False),
                                       ("a@b@c.d", False), ("a b@c.d", False)])
def test_email_addresses_are_checked_loosely(value, ok):
    assert valid_address(value) is ok
