"""Suite-wide test helpers: system tools that must exist under CI and may be missing locally."""

from __future__ import annotations

import shutil

from ci_env import in_ci, skip_or_fail

__all__ = ["in_ci", "require_tool", "skip_or_fail"]


def require_tool(tool: str, package: str) -> str:
    """The tool's path; locally a missing tool skips (naming the package), under CI=true it fails."""
    path = shutil.which(tool)
    if path:
        return path
    skip_or_fail(f"{tool} not found: install the Debian package '{package}' (apt-get install {package})")
