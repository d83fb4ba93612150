"""Run helm-sdkpy's Lint on chart directories in a child process (used by conftest.py).

    python helm_sdk_runner.py CHART_DIR [CHART_DIR ...]

Prints one JSON object mapping each chart directory to its lint result. A
separate process because Helm's engine logs through Go's standard logger to
file descriptor 2: the parent reads that stream (see conftest.render_chart),
and a crash inside the Go library cannot take the test session down.
"""

from __future__ import annotations

import asyncio
import json
import sys

import helm_sdkpy


async def _lint_all(charts: list[str]) -> dict[str, object]:
    config = helm_sdkpy.Configuration()
    lint = helm_sdkpy.Lint(config)
    return {chart: await lint.run(chart) for chart in charts}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_lint_all(sys.argv[1:]))))
