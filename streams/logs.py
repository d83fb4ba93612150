"""Logs on stdout with the request and user in context: one JSON object per line, or a console format for people."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)

#: Attributes every LogRecord has; anything else passed in `extra=` is ours and goes into the JSON.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

#: Libraries that narrate their own start-up and shutdown at INFO (every service's "Starting...", each
#: topic created, each step of the group join): about a hundred lines before the worker is ready. A
#: person at a console sees their warnings and errors only (at LOG_LEVEL=debug, everything).
CHATTY_LIBRARIES = ("faust", "mode", "aiokafka")
#: Health probes, answered several times a second while `taskstream dev` waits for the worker.
PROBE_ROUTES = ("/ready", "/live")
#: Level colours on a terminal (ANSI): warnings and errors stand out from the flow of INFO lines.
_COLOURS = {"DEBUG": "\033[2m", "INFO": "\033[32m", "WARNING": "\033[33m", "ERROR": "\033[31m",
            "CRITICAL": "\033[1;31m"}
_DIM, _RESET = "\033[2m", "\033[0m"


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the code passed in `extra=` (and the context filter added), in the form both formats print."""
    return {
        key: value if isinstance(value, (str, int, float, bool)) else str(value)
        for key, value in vars(record).items()
        if key not in _STANDARD and value is not None and not key.startswith("_")
    }


class ContextFilter(logging.Filter):
    """Stamps each record with the request and user being served (when there is one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        if getattr(record, "user_id", None) is None:
            record.user_id = user_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(extra_fields(record))
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(entry, ensure_ascii=False)


def _console_value(value: Any) -> str:
    text = str(value)
    # Quoted when it would not read back as one value: empty, or with spaces, quotes or `=`.
    return json.dumps(text, ensure_ascii=False) if not text or any(c in text for c in " \"=\n\t") else text


class ConsoleFormatter(logging.Formatter):
    """`18:04:31 INFO  web.access  GET /api/tasks 200  status=200 user_id=demo`: local time, level,
    logger, message, then the same fields the JSON format carries; the level coloured when `colour`."""

    def __init__(self, colour: bool = False) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        clock = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        level, name = f"{record.levelname:<5}", record.name
        if self.colour:
            level = f"{_COLOURS.get(record.levelname, '')}{level}{_RESET}"
            name = f"{_DIM}{name}{_RESET}"
        line = f"{clock} {level} {name}  {record.getMessage()}"
        fields = " ".join(f"{key}={_console_value(value)}" for key, value in extra_fields(record).items())
        if fields:
            line += f"  {fields}"
        if record.exc_info:
            line += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return line


class ConsoleQuiet(logging.Filter):
    """For a person at a console: the chatty libraries' INFO lines, the lifecycle lines of services
    ("[^--Gateway]: Starting..."), and health-probe requests are left out; warnings and errors never."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        if record.name.partition(".")[0] in CHATTY_LIBRARIES:
            return False
        if isinstance(record.msg, str) and record.msg.startswith("[^"):
            return False  # mode's Service.log prefix: our own services' lifecycle, as chatty as Faust's
        return getattr(record, "route", None) not in PROBE_ROUTES


def logging_config(level: str, fmt: str, *, colour: bool | None = None) -> dict[str, Any]:
    """dictConfig for the worker: JSON (the default) or the console format for people (`taskstream dev`'s
    default), coloured when stdout is a terminal unless `colour` says otherwise."""
    if colour is None:
        colour = sys.stdout.isatty()
    filters = ["context"]
    if fmt == "console" and level.lower() != "debug":
        filters.append("quiet")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}, "quiet": {"()": ConsoleQuiet}},
        "formatters": {
            "json": {"()": JsonFormatter},
            "console": {"()": ConsoleFormatter, "colour": colour},
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": fmt,
                "filters": filters,
            }
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
    }
