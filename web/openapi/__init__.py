"""The OpenAPI 3.1 description of the HTTP API, mirroring web/views/: one module per resource declares its
schemas, parameters, headers, tags and routes (with the shared building blocks in schema.py and base.py);
registry.py joins them once and builds the document, and view.py serves it at /openapi.json.
"""

from .registry import document

__all__ = ["document"]
