"""Web views (REST, WebSocket), the server's start-up, auth, validation, error mapping and the OpenAPI document."""
