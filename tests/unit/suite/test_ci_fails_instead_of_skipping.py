"""Under CI a test that cannot run fails instead of skipping: a missing tool, DATABASE_URL pointing away from
the embedded server, a route probe that answers an error. Locally these still skip."""

from __future__ import annotations

import importlib.util
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[2]
Failed, Skipped = pytest.fail.Exception, pytest.skip.Exception


def outcome(call, *args) -> type | None:
    """Failed, Skipped or None (it returned): a skip must not escape, or this test would skip too."""
    try:
        call(*args)
    except (Failed, Skipped) as exc:
        return Failed if isinstance(exc, Failed) else Skipped
    return None


def load(relative: str, name: str, monkeypatch):
    """A test-suite module by path (conftests and test modules share names, so no plain import)."""
    path = TESTS / relative
    monkeypatch.syspath_prepend(str(TESTS / "integration"))  # stack.py, which the others import
    monkeypatch.syspath_prepend(str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("value", ["true", "True", "TRUE"])
def test_a_missing_deploy_tool_fails_under_ci_whatever_the_case_of_true(monkeypatch, value):
    deploy = load("deploy/conftest.py", "deploy_conftest", monkeypatch)
    monkeypatch.setenv("CI", value)
    assert outcome(deploy.tool_missing, "kubectl not found") is Failed
    monkeypatch.delenv("CI")
    assert outcome(deploy.tool_missing, "kubectl not found") is Skipped


def test_the_embedded_database_tests_fail_under_ci_when_database_url_points_elsewhere(monkeypatch):
    integration = load("integration/conftest.py", "integration_conftest", monkeypatch)
    fixture = integration.embedded_pg._get_wrapped_function()
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://postgres@db.example:5432/taskstream")
    monkeypatch.setenv("CI", "true")
    assert outcome(fixture, "postgresql+asyncpg://postgres@db.example:5432/taskstream") is Failed
    monkeypatch.delenv("CI")
    assert outcome(fixture, "postgresql+asyncpg://postgres@db.example:5432/taskstream") is Skipped


@pytest.fixture
def server():
    """An HTTP server answering GET /status/<code> with that code."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            code = int(self.path.rsplit("/", 1)[1])
            body = b'{"error": "x", "message": "x", "details": {}}'
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("code", [401, 429, 500])
def test_a_dashboard_route_probe_answering_an_error_is_a_failure_not_a_missing_route(monkeypatch, server, code):
    dashboard = load("e2e/test_dashboard.py", "e2e_test_dashboard", monkeypatch)
    user = load("e2e/conftest.py", "e2e_conftest", monkeypatch).User(server)
    for ci in ("true", None):
        monkeypatch.setenv("CI", ci) if ci else monkeypatch.delenv("CI", raising=False)
        with pytest.raises(AssertionError, match=f"answered {code}"):
            dashboard.has_route(user, f"/status/{code}")


def test_a_dashboard_route_probe_tells_a_missing_route_from_a_present_one(monkeypatch, server):
    dashboard = load("e2e/test_dashboard.py", "e2e_test_dashboard", monkeypatch)
    user = load("e2e/conftest.py", "e2e_conftest", monkeypatch).User(server)
    assert dashboard.has_route(user, "/status/200") is True
    assert dashboard.has_route(user, "/status/404") is False


def test_skip_or_fail_skips_locally_and_fails_under_ci(monkeypatch):
    ci_env = load("ci_env.py", "ci_env_module", monkeypatch)
    monkeypatch.delenv("CI", raising=False)
    assert outcome(ci_env.skip_or_fail, "this server has no /api/recurring-tasks") is Skipped
    monkeypatch.setenv("CI", "True")
    with pytest.raises(Failed, match="this server has no /api/recurring-tasks"):
        ci_env.skip_or_fail("this server has no /api/recurring-tasks")
