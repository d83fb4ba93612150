"""Waiting for rows to come due: until the earliest due time the database names, never past a cap."""

from __future__ import annotations


def wait_before_next_look(due_in: float | None, *, cap: float) -> float:
    """How long a loop that was not woken may sleep: until `due_in` seconds (None: nothing pending),
    but at most `cap`, so work that another worker or a direct edit made due is not missed for long."""
    if due_in is None:
        return cap
    return min(max(due_in, 0.0), cap)
