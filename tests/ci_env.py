"""Whether the suite runs under CI, and what a test that cannot run becomes: a skip locally, a failure under CI.

A module of its own (tests/ is on sys.path) because conftest modules cannot be imported by name.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(message: str) -> NoReturn:
    """Skip the calling test locally (a tool or a route may be missing there); under CI=true fail it, so a
    run that tested less than it claims is red."""
    if in_ci():
        pytest.fail(f"{message} (CI=true: a failure, not a skip)", pytrace=False)
    pytest.skip(message)
