"""The dashboard: index.html at / and its assets at /static/{path}, served from web/static."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from aiohttp import web

from streams.app import app

from .. import security
from ..errors import ApiError
from .base import ApiView

STATIC_DIR = (Path(__file__).resolve().parent.parent / "static").resolve()
INDEX = "index.html"

#: The only file types served, with their exact content types: the middleware sends
#: `X-Content-Type-Options: nosniff`, so a JavaScript module served as anything else would not run.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/vnd.microsoft.icon",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
}

#: The middleware sets it on every HTML page; sent here too so the page never goes out without it.
CONTENT_SECURITY_POLICY = security.CONTENT_SECURITY_POLICY

#: No hashed file names (nothing is built), so browsers revalidate every time; the ETag and
#: Last-Modified FileResponse sends make that a cheap 304.
CACHE_CONTROL = "no-cache"


def static_file(relative: str, root: Path = STATIC_DIR) -> Path | None:
    """The file `relative` names inside `root`, or None: no dot segments or hidden files, no
    absolute paths or backslashes, nothing that resolves (through symlinks too) outside `root`,
    and only the file types in CONTENT_TYPES."""
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    parts = PurePosixPath(relative).parts
    if not parts or parts[0] == "/" or any(part.startswith(".") for part in parts):
        return None
    candidate = root.joinpath(*parts)
    if candidate.suffix.lower() not in CONTENT_TYPES:
        return None
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    return resolved


def file_response(path: Path, **headers: str) -> web.FileResponse:
    response = web.FileResponse(path, headers={
        "Content-Type": CONTENT_TYPES[path.suffix.lower()],
        "Cache-Control": CACHE_CONTROL,
        **headers,
    })
    return response


def no_such_file(relative: str) -> ApiError:
    return ApiError(404, "not_found", f"no such file: /static/{relative}", {"path": relative})


@app.page("/")
class Dashboard(ApiView):
    async def get(self, request: web.Request) -> web.StreamResponse:
        return file_response(STATIC_DIR / INDEX, **{"Content-Security-Policy": CONTENT_SECURITY_POLICY})


@app.page("/static/{path:.+}")
class StaticFile(ApiView):
    async def get(self, request: web.Request, path: str) -> web.StreamResponse:
        found = static_file(path)
        if found is None:
            raise no_such_file(path)
        extra = {"Content-Security-Policy": CONTENT_SECURITY_POLICY} if found.suffix == ".html" else {}
        return file_response(found, **extra)
