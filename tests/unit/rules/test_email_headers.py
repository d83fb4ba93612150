"""A reminder email's headers are single lines whatever the task title holds (line breaks, separators)."""

from __future__ import annotations

import uuid
from email import message_from_bytes, policy
from types import SimpleNamespace

import pytest

from agents.email import build_message
from streams.rules.email import parse_smtp_url, render

BREAKS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("brk", BREAKS, ids=[repr(b) for b in BREAKS])
def test_a_title_with_a_line_break_renders_a_one_line_subject(brk):
    subject, text, _ = render(f"Reminder: Pay rent{brk}and the  power bill", f"Pay rent{brk}and the power bill")
    assert subject == "Reminder: Pay rent and the power bill"
    assert "Pay rent" in text and "power bill" in text


@pytest.mark.parametrize("brk", BREAKS, ids=[repr(b) for b in BREAKS])
def test_an_email_queued_with_a_line_break_in_its_subject_still_builds(brk):
    """Emails queued before subjects were cleaned keep theirs: the sender must still build them."""
    row = SimpleNamespace(to_address="ada@example.com", subject=f"Reminder: a{brk}b", notification_id=uuid.uuid4(),
                          text_body="a\nb", html_body="<p>a</p><p>b</p>")
    message = build_message(parse_smtp_url("smtp://127.0.0.1:25?from=reminders@taskstream.test"), row)
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed["Subject"] == "Reminder: a b"
