"""The console log format `taskstream dev` uses: one readable line per record, quiet libraries, JSON kept for pods."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re

import pytest

from streams.logs import logging_config
from streams.settings import from_env


@pytest.fixture
def logged():
    """Configure logging like the worker does, into a buffer; returns (configure, read)."""
    stream = io.StringIO()
    saved = logging.root.handlers[:], logging.root.level

    def configure(level: str, fmt: str, colour: bool = False) -> None:
        config = logging_config(level, fmt, colour=colour)
        config["handlers"]["default"]["stream"] = stream
        logging.config.dictConfig(config)

    yield configure, lambda: stream.getvalue().splitlines()
    logging.root.handlers[:], _ = saved
    logging.root.setLevel(saved[1])


def test_a_console_line_reads_time_level_logger_message_and_fields(logged):
    configure, lines = logged
    configure("info", "console")
    logging.getLogger("taskstream.access").info("GET /api/tasks 200", extra={
        "route": "/api/tasks", "status": 200, "duration_ms": 3.5, "user_id": "demo", "error": "two words"})
    assert len(lines()) == 1
    line = lines()[0]
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO  taskstream\.access  GET /api/tasks 200  .*", line), line
    assert "route=/api/tasks" in line and "status=200" in line and "user_id=demo" in line
    assert 'error="two words"' in line, "a value with spaces stays one readable value"
    assert "\033[" not in line, "no colour codes when the output is not a terminal"


def test_levels_are_coloured_only_when_asked(logged):
    configure, lines = logged
    configure("info", "console", colour=True)
    logging.getLogger("agents.webhooks").warning("could not deliver")
    assert "\033[33mWARNING\033[0m" in lines()[0]


def test_an_exception_follows_its_line(logged):
    configure, lines = logged
    configure("info", "console")
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("agents.fan_out").exception("fan-out failed")
    assert lines()[0].endswith("fan-out failed")
    assert lines()[-1] == "ValueError: broken"


def test_console_leaves_out_library_chatter_lifecycle_lines_and_probes_but_never_warnings(logged):
    configure, lines = logged
    configure("info", "console")
    logging.getLogger("faust.worker").info("[^Worker]: Starting...")
    logging.getLogger("aiokafka.consumer.group_coordinator").info("(Re-)joining group taskstream")
    logging.getLogger("agents.webhooks").info("[^--WebhookDispatcher]: Starting...")
    logging.getLogger("taskstream.access").info("GET /ready 503", extra={"route": "/ready", "status": 503})
    logging.getLogger("aiokafka.consumer.group_coordinator").warning("Heartbeat failed")
    logging.getLogger("streams.app").info("joined the consumer group")
    assert [line.split()[2] for line in lines()] == ["aiokafka.consumer.group_coordinator", "streams.app"]
    assert "Heartbeat failed" in lines()[0]


def test_at_debug_level_the_console_shows_everything(logged):
    configure, lines = logged
    configure("debug", "console")
    logging.getLogger("faust.worker").info("[^Worker]: Starting...")
    assert len(lines()) == 1


def test_json_stays_one_object_per_line_with_every_library(logged):
    configure, lines = logged
    configure("info", "json")
    logging.getLogger("faust.worker").info("[^Worker]: Starting...")
    logging.getLogger("taskstream.access").info("GET /ready 200", extra={"route": "/ready", "status": 200})
    entries = [json.loads(line) for line in lines()]
    assert [(e["logger"], e["message"]) for e in entries] == [
        ("faust.worker", "[^Worker]: Starting..."), ("taskstream.access", "GET /ready 200")]
    assert entries[1]["status"] == 200


def test_a_worker_logs_json_unless_told_otherwise():
    assert from_env({}).log_format == "json"
    assert from_env({"LOG_FORMAT": "console"}).log_format == "console"
