"""Suite-wide test helpers: system tools that must exist under CI and may be missing locally."""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_tool(tool: str, package: str) -> str:
    """The tool's path; locally a missing tool skips (naming the package), under CI=true it fails."""
    path = shutil.which(tool)
    if path:
        return path
    message = f"{tool} not found: install the Debian package '{package}' (apt-get install {package})"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)
