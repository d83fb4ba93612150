"""Every app metric a dashboard or an alert reads is also written by the app: a metric that is defined
and exported but never moved passes the name checks of test_dashboards.py and test_alert_rules.py
while its panels and alerts can never show anything. (That each one moves when its event happens is
tested against a real worker, in tests/integration/test_reminder_metrics.py and test_observability.py.)"""

from __future__ import annotations

import re

#: The app's packages that may write metrics (streams/metrics.py only defines them).
SOURCES = ("agents", "db", "streams", "tables", "web")
#: A metric object used: a sample observed, a labelled child taken, a gauge set or given a function.
_WRITES = r"\.(?:inc|dec|set|observe|labels|set_function|time|track_inprogress)\("


def _read_metrics(monitoring) -> set[str]:
    names: set[str] = set()
    for alert in monitoring.alerts:
        names |= monitoring.metric_names(alert["expr"])
    for dashboard in monitoring.dashboards.values():
        for panel in monitoring.panels(dashboard):
            for target in panel.get("targets", []):
                if "expr" in target:
                    names |= monitoring.metric_names(target["expr"])
    return names


def _app_source(monitoring) -> str:
    root = monitoring.repo_root
    return "\n".join(
        path.read_text() for package in SOURCES for path in sorted((root / package).rglob("*.py"))
        if path != root / "streams" / "metrics.py"
    )


def test_every_app_metric_a_dashboard_or_alert_reads_is_written_somewhere(monitoring):
    from prometheus_client.metrics import MetricWrapperBase

    from streams import metrics

    read = _read_metrics(monitoring)
    source = _app_source(monitoring)
    unwritten = []
    for variable, metric in vars(metrics).items():
        if not isinstance(metric, MetricWrapperBase):
            continue
        if not any(name == metric._name or name.startswith(f"{metric._name}_") for name in read):
            continue
        if not re.search(rf"\b{variable}{_WRITES}", source):
            unwritten.append(f"{metric._name} (streams.metrics.{variable})")
    assert not unwritten, f"read by a dashboard or an alert but never written by the app: {sorted(unwritten)}"
