"""The address confirmation email: the link in both parts, the address escaped in the HTML one."""

from __future__ import annotations

from streams.rules.email import render_confirmation


def test_the_confirmation_email_carries_the_link_and_escapes_the_address():
    link = "https://tasks.example.com/confirm-email?token=abc_DEF-123"
    subject, text, page = render_confirmation("a<b>@example.com", link, valid_hours=24)
    assert subject == "Confirm your taskstream reminder address"
    assert link in text and "24 hours" in text and "a<b>@example.com" in text
    assert f'href="{link}"' in page
    assert "a&lt;b&gt;@example.com" in page and "<b>" not in page
