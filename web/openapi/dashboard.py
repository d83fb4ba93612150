"""The dashboard: its page and static files, outside /api and without authentication."""

from __future__ import annotations

from ..security import CONTENT_SECURITY_POLICY
from ..views.dashboard import CONTENT_TYPES
from .schema import Resource, Route, Schema, ref, response

PARAMETERS: dict[str, Schema] = {
    "StaticPath": {
        "name": "path", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1},
        "description": "A file under the dashboard's static folder; it may contain `/` (e.g. `js/main.js`). "
        "Anything outside that folder, hidden files and unlisted file types answer 404.",
    },
}


def _file_response(description: str, content_types: list[str], **headers: Schema) -> Schema:
    return {
        "description": description,
        "content": {content_type: {"schema": {"type": "string"}} for content_type in content_types},
        "headers": {
            "X-Request-ID": ref("RequestId", "headers"),
            "Cache-Control": {"description": "`no-cache`: revalidate each time (answered with 304 when unchanged).",
                              "schema": {"type": "string", "const": "no-cache"}},
            "ETag": {"description": "The file's validator; send it back as If-None-Match.",
                     "schema": {"type": "string"}},
            **headers,
        },
    }


#: The Content-Security-Policy header of the HTML pages (the dashboard's and /docs).
CSP_HEADER: Schema = {"description": "Only this origin's files; no inline scripts or styles.",
                      "schema": {"type": "string", "const": CONTENT_SECURITY_POLICY}}

ROUTES: tuple[Route, ...] = (
    Route("get", "/", "getDashboard", "The dashboard",
          {200: _file_response("The dashboard's page (HTML). Sign in there with a bearer token; it keeps the "
                               "token in the tab's sessionStorage only.", ["text/html"],
                               **{"Content-Security-Policy": CSP_HEADER})},
          tag="dashboard"),
    Route("get", "/static/{path}", "getDashboardFile", "A file of the dashboard",
          {200: _file_response("The file, with the content type of its extension.",
                               sorted({t.split(";")[0] for t in CONTENT_TYPES.values()})),
           404: response("No such file here.", ref("Error"))},
          tag="dashboard", errors=(404,)),
)

TAGS: tuple[Schema, ...] = ({"name": "dashboard", "description": "The web dashboard: a page and its files."},)

RESOURCE = Resource(routes=ROUTES, tags=TAGS, parameters=PARAMETERS, path_parameters={"path": "StaticPath"})
