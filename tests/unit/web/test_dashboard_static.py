"""The dashboard's files: served from web/static only, with the right content types, and nothing from elsewhere."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from typing import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from web.views.dashboard import CONTENT_TYPES, STATIC_DIR, static_file

# The middleware keeps the request id under a str key, which aiohttp >= 3.14 warns about (once per
# process); warnings are errors in this suite and the server runs in-process here.

JS_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^'"]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']""", re.M)


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[TestClient]:
    from streams.app import app

    app.finalize()
    app.discover()
    async with TestClient(TestServer(app.web.web_app)) as test_client:
        yield test_client


async def raw_status(client: TestClient, target: str) -> int:
    """GET `target` exactly as written: HTTP clients would normalise the dot segments away first."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


@pytest.mark.parametrize("target", [
    "/static/../setup.cfg",
    "/static/%2e%2e/setup.cfg",
    "/static/js/..%2f..%2f..%2f..%2fsetup.cfg",
    "/static/%2e%2e%2fviews%2fdashboard.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/..%5c..%5csetup.cfg",
    "/static/js",
    "/static/nothing-here.js",
    "/static/.hidden.css",
])
async def test_the_static_route_refuses_paths_outside_the_static_folder(client, target):
    assert await raw_status(client, target) == 404


async def test_a_missing_file_is_a_json_404(client):
    response = await client.get("/static/js/no-such-module.js")
    assert response.status == 404
    body = await response.json()
    assert body["error"] == "not_found"


@pytest.mark.parametrize(("path", "content_type"), [
    ("/", "text/html"),
    ("/static/index.html", "text/html"),
    ("/static/css/app.css", "text/css"),
    ("/static/js/main.js", "text/javascript"),
    ("/static/favicon.svg", "image/svg+xml"),
])
async def test_files_are_served_with_their_content_type(client, path, content_type):
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers.get("ETag") or response.headers.get("Last-Modified")
    assert await response.read() == (STATIC_DIR / ("index.html" if path == "/" else path.removeprefix("/static/"))).read_bytes()


async def test_the_page_carries_a_content_security_policy_without_inline_scripts(client):
    response = await client.get("/")
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in response.headers["Content-Security-Policy"].split(";") if directive.strip()
    }
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"], "its own origin, WebSocket included: no other host"
    assert not any("'unsafe-inline'" in values or "'unsafe-eval'" in values for values in policy.values())


async def test_an_unchanged_file_is_not_sent_again(client):
    first = await client.get("/static/css/app.css")
    again = await client.get("/static/css/app.css", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304


def test_every_file_in_the_static_folder_has_a_content_type():
    files = [path for path in STATIC_DIR.rglob("*") if path.is_file()]
    assert files
    assert {path.suffix for path in files} <= set(CONTENT_TYPES)


def test_the_lookup_refuses_symlinks_out_of_the_folder_and_unlisted_file_types(tmp_path):
    root = tmp_path / "static"
    root.mkdir()
    (root / "app.js").write_text("export {};")
    (root / "notes.txt").write_text("not served")
    (tmp_path / "secret.js").write_text("secret")
    (root / "link.js").symlink_to(tmp_path / "secret.js")
    assert static_file("app.js", root) == (root / "app.js").resolve()
    assert static_file("link.js", root) is None
    assert static_file("notes.txt", root) is None
    assert static_file("../secret.js", root) is None
    assert static_file("", root) is None


class Assets(HTMLParser):
    """Every URL the page loads, and whatever would need 'unsafe-inline'."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href", "srcset", "poster", "data", "action"):
            if values.get(name) and not (tag == "a" and name == "href"):
                self.urls.append(values[name])
        if tag == "script" and not values.get("src"):
            self.inline.append("<script> without src")
        if "style" in values:
            self.inline.append(f"style attribute on <{tag}>")
        self.inline += [f"{name} on <{tag}>" for name in values if name.startswith("on")]

    def handle_data(self, data: str) -> None:
        if self.lasttag == "style" and data.strip():
            self.inline.append("<style> element")


def test_the_page_loads_only_local_files_that_exist():
    parser = Assets()
    parser.feed((STATIC_DIR / "index.html").read_text())
    assert parser.urls, "the page loads no assets at all?"
    for url in parser.urls:
        assert url.startswith("/static/") and "//" not in url and ".." not in url, url
        assert static_file(url.removeprefix("/static/")) is not None, f"{url} is not served"
    assert parser.inline == []


def test_scripts_import_only_modules_of_their_own_folder():
    for script in STATIC_DIR.rglob("*.js"):
        source = script.read_text()
        for match in JS_IMPORT.finditer(source):
            target = match.group(1) or match.group(2)
            assert target.startswith("./"), f"{script.name} imports {target}"
            assert (script.parent / target).is_file(), f"{script.name} imports missing {target}"
        assert "http://" not in source and "https://" not in source, f"{script.name} names a remote URL"
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", (STATIC_DIR / "css" / "app.css").read_text())
