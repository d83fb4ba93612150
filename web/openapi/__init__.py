"""The OpenAPI 3.1 description of the HTTP API, one module per resource as in web/views/.

Each resource module declares its schemas, parameters, headers, tags and routes as a `Resource`
(schema.py holds the building blocks, base.py what every route shares); registry.py joins them once
and builds the document, and view.py serves it at /openapi.json.
"""

from .registry import document

__all__ = ["document"]
