"""SQL text with numbered placeholders, built in order: what the lean path hands asyncpg to prepare once."""

from __future__ import annotations

import re
from typing import Any


class Params:
    """The arguments of one statement; calling it with a value adds the value and returns its placeholder.

    Every user value becomes an argument, so the statement's text depends only on the request's shape:
    asyncpg prepares each distinct text once per connection and reuses the plan source after that.
    """

    __slots__ = ("args",)

    def __init__(self, *args: Any) -> None:
        self.args = list(args)

    def __call__(self, value: Any, cast: str | None = None) -> str:
        self.args.append(value)
        return f"${len(self.args)}::{cast}" if cast else f"${len(self.args)}"


_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`:name` placeholders as `$n`, with the names in argument order (a name used twice keeps one number)."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAMED.sub(number, sql), tuple(names)
