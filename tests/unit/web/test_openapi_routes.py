"""The OpenAPI document and the routes the app really serves never drift apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from web import openapi, views
from web.openapi import document, registry
from web.openapi.schema import Resource

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


def test_the_openapi_package_mirrors_the_views_with_a_module_for_each():
    def modules(package) -> set[str]:
        return {path.stem for path in Path(package.__file__).parent.glob("*.py")} - {"__init__"}

    assert modules(views) - modules(openapi) == set()


def test_the_registry_refuses_a_name_two_resources_declare(monkeypatch):
    twice = (Resource(schemas={"Task": {}}), Resource(schemas={"Task": {}}))
    monkeypatch.setattr(registry, "RESOURCES", twice)
    with pytest.raises(ValueError, match="'Task' is declared twice"):
        registry.join("schemas")
