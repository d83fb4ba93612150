"""Email rules: read SMTP_URL, and render a notification or an address confirmation as plain text and HTML."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["SmtpConfig", "header_text", "parse_smtp_url", "render", "render_confirmation", "valid_address"]

_ADDRESS = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$|^[^@\s<>\"',;]+@(localhost|127\.0\.0\.1)$")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    use_tls: bool
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(url: str) -> SmtpConfig:
    """`smtp://user:pass@host:587?from=reminders@example.com`; smtps:// is TLS from the first byte (465)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:password@host:587 (or smtps:// for TLS)")
    tls = parts.scheme == "smtps"
    sender = parse_qs(parts.query).get("from", [f"taskstream@{parts.hostname}"])[0]
    return SmtpConfig(
        host=parts.hostname,
        port=parts.port or (465 if tls else 25),
        use_tls=tls,
        sender=sender,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def valid_address(value: str) -> bool:
    return bool(_ADDRESS.match(value)) and len(value) <= 254


def header_text(value: str) -> str:
    """`value` on one line, fit for a header: any run of whitespace, line breaks included, is one space.

    Task titles may hold line breaks, and the email package refuses a header with any line boundary
    that str.splitlines() knows (CR, LF, \\v, \\f, \\x1c-\\x1e, \\x85, U+2028, U+2029): all are whitespace
    to str.split()."""
    return " ".join(value.split())


def render(title: str, body: str) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of a notification; user text is escaped in the HTML part."""
    text = f"{body}\n\n-- \nSent by taskstream because you asked to be reminded.\n"
    lines = body.splitlines()
    items = [line[2:] for line in lines if line.startswith("- ")]
    rest = [line for line in lines if not line.startswith("- ")]
    parts = [f"<h1 style=\"font-size:18px\">{html.escape(title)}</h1>"]
    if items:
        parts.append("<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>")
    parts += [f"<p>{html.escape(line)}</p>" for line in rest if line.strip()]
    parts.append("<p style=\"color:#777;font-size:12px\">Sent by taskstream because you asked to be reminded.</p>")
    page = "<!doctype html><html><body>" + "".join(parts) + "</body></html>"
    return header_text(title), text, page


def render_confirmation(address: str, link: str, *, valid_hours: int) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the email that asks to confirm `address` by following `link`."""
    subject = "Confirm your taskstream reminder address"
    text = (f"Someone (hopefully you) asked taskstream to send reminders to {address}.\n\n"
            f"To confirm, open this link within {valid_hours} hours:\n{link}\n\n"
            "If it was not you, ignore this email: nothing is sent to this address until it is confirmed.\n")
    page = ("<!doctype html><html><body>"
            f"<p>Someone (hopefully you) asked taskstream to send reminders to {html.escape(address)}.</p>"
            f"<p><a href=\"{html.escape(link)}\">Confirm this address</a> within {valid_hours} hours.</p>"
            "<p style=\"color:#777;font-size:12px\">If it was not you, ignore this email: nothing is sent to "
            "this address until it is confirmed.</p></body></html>")
    return subject, text, page
