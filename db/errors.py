"""What query functions raise when the stored data refuses a request; web/errors.py maps each to one HTTP answer."""

from __future__ import annotations

from typing import Any


class QueryError(Exception):
    """The base: a refusal the client can act on, never a failure of the database itself."""


class NotFound(QueryError, LookupError):
    """No such row for this user (another user's row is reported the same way, so ids stay private)."""

    def __init__(self, what: str, ident: Any) -> None:
        super().__init__(f"{what} {ident} not found")
        self.what, self.ident = what, ident


class VersionConflict(QueryError):
    """The row changed since the version the client based its change on (If-Match)."""

    def __init__(self, what: str, ident: Any, *, expected: int, current: int) -> None:
        super().__init__(f"{what} {ident} is at version {current}, not {expected}")
        self.what, self.ident, self.expected, self.current = what, ident, expected, current


class Conflict(QueryError):
    """The request clashes with the row's state or with what the user already has; `details` say where."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message, self.details = message, details


class Invalid(QueryError, ValueError):
    """A value only the stored data shows to be wrong (a reminder already past, a cursor of another listing)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message
