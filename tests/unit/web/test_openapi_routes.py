"""The OpenAPI document and the routes the app really serves never drift apart."""

from __future__ import annotations

from web.openapi import document

METHODS = {"get", "post", "put", "patch", "delete"}


def served_routes() -> set[tuple[str, str]]:
    from streams.app import app

    app.finalize()
    app.discover()
    return {
        (route.method, route.resource.canonical)
        for route in app.web.web_app.router.routes()
        if route.method not in ("HEAD", "OPTIONS")
    }


def test_every_served_route_is_documented_and_nothing_else_is():
    documented = {
        (method.upper(), path)
        for path, operations in document()["paths"].items()
        for method in operations
        if method in METHODS
    }
    served = served_routes()
    assert served - documented == set(), "routes missing from /openapi.json"
    assert documented - served == set(), "documented routes that do not exist"
