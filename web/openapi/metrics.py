"""GET /metrics: the Prometheus exposition."""

from __future__ import annotations

from .schema import Resource, Route, ref

ROUTES: tuple[Route, ...] = (
    Route(
        "get", "/metrics", "getMetrics", "Prometheus metrics",
        {200: {
            "description": "The Prometheus text exposition format: HTTP requests by route template, Kafka "
            "publishing, outbox backlog, consumer lag, agent throughput, database latency and pool, "
            "process metrics. No authentication: expose it only to the monitoring network.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "headers": {"X-Request-ID": ref("RequestId", "headers")},
        }},
        tag="operations",
    ),
)

RESOURCE = Resource(routes=ROUTES)
