"""Web views (REST, WebSocket), auth, validation, error mapping and the OpenAPI document."""
