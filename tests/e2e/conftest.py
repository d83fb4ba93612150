"""Browser fixtures: a real PostgreSQL, broker and worker (as in tests/integration), and a headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
from ci_env import skip_or_fail

# The worker and token helpers of the integration tests (tests have no __init__.py: put their folder on the path).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from stack import Worker, make_token, migrated_database, start_broker  # noqa: E402


ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def require(found: bool, message: str) -> None:
    """Locally a missing browser or driver skips (saying what to install); under CI=true it fails."""
    if not found:
        skip_or_fail(message)


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium and the Playwright package, checked before any server starts."""
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    require(bool(path), "chromium not found: install the Debian package 'chromium' (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require(False, "playwright not installed: install the pip package 'playwright' (pip install playwright); "
                       "it drives the system Chromium, no browser download needed")
    return path


@pytest.fixture(scope="module")
def browser(chromium, worker) -> Iterator[Any]:
    """A headless Chromium driven by Playwright (never a downloaded browser).

    Started after the stack: while Playwright's synchronous API is open its event loop counts as
    running, and the stack's set-up (migrations) runs one of its own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with migrated_database() as url:
        yield url


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    server = start_broker(tmp_path_factory.mktemp("e2e-broker"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def worker(postgres, broker, tmp_path_factory) -> Iterator[Worker]:
    process = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("e2e-worker")).start()
    yield process
    process.stop()


@dataclass
class User:
    """A fresh user with a token, and a plain HTTP client to arrange data behind the browser's back."""

    base: str
    user_id: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:12]}")
    token: str = ""

    def __post_init__(self) -> None:
        self.token = make_token(self.user_id)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.base + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path} answered {exc.code}: {exc.read()[:500]!r}") from None
        return json.loads(text) if text else None

    def create(self, **fields: Any) -> dict[str, Any]:
        return self.call("POST", "/api/tasks", {"title": "a task", **fields})


@pytest.fixture
def user(worker) -> User:
    return User(worker.url)


class Console:
    """The errors pages log: console errors and uncaught exceptions, minus the ones a test expects."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page, *, expected: tuple[str, ...] = ()) -> None:
        def on_console(message) -> None:
            if message.type != "error":
                return
            text = f"{message.text} ({message.location.get('url', '')})"
            if not any(pattern in text for pattern in expected):
                self.errors.append(text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
