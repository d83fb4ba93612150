"""The MCP server (`taskstream mcp`): task tools for AI assistants, each one a REST API call as the token's user."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import quote

import aiohttp
from jsonschema import Draft202012Validator, FormatChecker
from mcp import types
from mcp.server.lowlevel import Server

from streams import events

from streams.rules import natural_dates

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:6066"
USER_AGENT = "taskstream-mcp/0.1"

# The API's limits (web/validation/), repeated in the schemas so an assistant sees them.
PRIORITIES = list(events.PRIORITIES)
SORT_FIELDS = ["due_date", "priority", "created_at", "updated_at", "completed_at", "title"]
WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
TITLE = {"type": "string", "minLength": 1, "maxLength": 255, "description": "1-255 characters (trimmed)."}
DESCRIPTION = {"type": "string", "maxLength": 10_000, "description": "Free text, at most 10,000 characters."}
TAG = {"type": "string", "minLength": 1, "maxLength": 50, "description": "1-50 characters; stored lower-case."}
TAGS = {"type": "array", "items": TAG, "maxItems": 10, "uniqueItems": True,
        "description": "At most 10 tags, each 1-50 characters; stored lower-case and de-duplicated."}
PRIORITY = {"type": "string", "enum": PRIORITIES, "description": "LOW, MEDIUM or HIGH."}
TASK_ID = {"type": "string", "format": "uuid",
           "description": "The task's id (a UUID), as returned by add_task, list_tasks or search_tasks."}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 100, "default": 20, "description": "Page size, 1-100."}
CURSOR = {"type": "string", "description": "next_cursor from the previous page, unchanged, to get the next page."}
TIMEZONE = {"type": "string", "minLength": 1, "examples": ["Europe/Berlin", "America/New_York", "UTC"],
            "description": "IANA time zone used to read natural dates and wall-clock times; defaults to the "
                           "user's (TASKSTREAM_TIMEZONE, else the time zone in their settings, else UTC)."}
NATURAL_DATE_HELP = (
    "Accepts natural language in the user's time zone: 'tomorrow 5pm', 'next friday', 'friday 9am', 'in 2 hours', "
    "'in 3 days', '2026-12-01 09:00', '1 Dec 17:00', or ISO-8601 with an offset ('2026-12-01T17:00:00+01:00'). "
    "A day without a time means 09:00. The resolved time is echoed back; check it."
)
DATE_TIME = {"type": "string", "format": "date-time",
             "description": "ISO-8601 date-time with an offset, e.g. 2026-12-01T00:00:00Z."}
COMPLETED_FILTER = {"type": "boolean", "description": "true: only completed tasks; false: only open ones; "
                                                      "leave out for both."}


class ToolError(Exception):
    """A failure the assistant should read and act on: returned as a tool result with isError."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ApiFailure(Exception):
    def __init__(self, status: int, body: Any, method: str, path: str) -> None:
        super().__init__(f"{status} from {method} {path}")
        self.status, self.body, self.method, self.path = status, body, method, path

    @property
    def message(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("message"), str):
            return self.body["message"]
        return str(self.body)[:300] or f"HTTP {self.status}"

    @property
    def details(self) -> dict[str, Any]:
        details = self.body.get("details") if isinstance(self.body, dict) else None
        return details if isinstance(details, dict) else {}

    @property
    def route_missing(self) -> bool:
        """A 404 for the route itself (this server predates it), not for a resource it looked up."""
        return self.status in (404, 405) and "id" not in self.details


@dataclass(frozen=True)
class McpConfig:
    """Where the API is, whose token to use, and the user's time zone; from the environment, once."""

    api_url: str
    token: str = field(repr=False)  # a secret: never in logs or reprs
    #: None: the time zone in the user's settings (GET /api/settings), read on the first tool call.
    timezone: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> McpConfig:
        from streams.settings import dev_data_dir

        from ..dev import read_dev_file

        token = (env.get("TASKSTREAM_TOKEN") or "").strip()
        if not token:
            raise ValueError("TASKSTREAM_TOKEN is not set; create one with `taskstream token USER_ID` "
                             "and export TASKSTREAM_TOKEN=<the token>")
        url = env.get("TASKSTREAM_URL") or read_dev_file(dev_data_dir(env)).get("web_url") \
            or DEFAULT_URL
        zone_name = env.get("TASKSTREAM_TIMEZONE") or None
        try:
            if zone_name:
                natural_dates.zone(zone_name)
        except natural_dates.TimeZoneError as exc:
            raise ValueError(f"TASKSTREAM_TIMEZONE: {exc}") from None
        return cls(api_url=url.rstrip("/"), token=token, timezone=zone_name)


class RestClient:
    """The REST API as one user: JSON in, JSON out, non-2xx answers raised as ApiFailure."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token
        self._session: aiohttp.ClientSession | None = None

    async def request(self, method: str, path: str, *, body: Any = None,
                      params: Mapping[str, Any] | None = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30), headers={
                "Authorization": f"Bearer {self.token}", "User-Agent": USER_AGENT})
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        try:
            async with self._session.request(method, self.base_url + path, json=body, params=query) as response:
                text = await response.text()
                try:
                    data = json.loads(text) if text else None
                except ValueError:
                    data = text
                if response.status >= 400:
                    raise ApiFailure(response.status, data, method, path)
                return data
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ToolError(f"cannot reach the taskstream API at {self.base_url} ({exc}); is a worker running? "
                            "Check TASKSTREAM_URL, or the --data-dir of the running `taskstream dev`") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_schema: dict[str, Any]
    handler: Callable[[dict[str, Any]], Awaitable[tuple[Any, str]]]
    read_only: bool = False
    destructive: bool = False
    output_schema: dict[str, Any] | None = None

    def definition(self) -> types.Tool:
        return types.Tool(
            name=self.name, description=self.description, input_schema=self.input_schema,
            output_schema=self.output_schema,
            annotations=types.ToolAnnotations(read_only_hint=self.read_only, destructive_hint=self.destructive,
                                              open_world_hint=False),
        )


#: Each tool's structured result: the API's own response schema (components of GET /openapi.json).
API_OUTPUTS = {
    "add_task": "Task", "get_task": "Task", "update_task": "Task", "complete_task": "Task", "uncomplete_task": "Task",
    "set_task_priority": "Task", "set_task_due_date": "Task", "add_task_tags": "Task", "remove_task_tag": "Task",
    "list_tasks": "TaskList", "search_tasks": "TaskList", "filter_tasks": "TaskList", "sort_tasks": "TaskList",
    "create_recurring_task": "RecurringTask", "list_recurring_tasks": "RecurringTaskList", "add_reminder": "Reminder",
    "list_reminders": "ReminderList", "get_task_history": "AuditPage", "quick_add": "QuickAddResult",
}
DELETED_TASK = {"type": "object", "properties": {"deleted": {"const": True}, "task_id": {"type": "string",
                "format": "uuid"}}, "required": ["deleted", "task_id"], "additionalProperties": False}


def api_output_schemas(components: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Self-contained output schemas from OpenAPI components: refs point into $defs, only the ones used."""
    prefix = "#/components/schemas/"

    def rewrite(node: Any, found: set[str]) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "additionalProperties" and value is False:
                    continue  # a newer server may add fields; clients must not reject its answers for that
                if key == "$ref" and isinstance(value, str) and value.startswith(prefix):
                    found.add(value[len(prefix):])
                    out[key] = "#/$defs/" + value[len(prefix):]
                else:
                    out[key] = rewrite(value, found)
            return out
        if isinstance(node, list):
            return [rewrite(item, found) for item in node]
        return node

    result: dict[str, dict[str, Any]] = {}
    for tool, name in API_OUTPUTS.items():
        if name not in components:
            continue  # an older contract: the tool still works, without an output schema
        defs: dict[str, Any] = {}
        pending = [name]
        while pending:
            current = pending.pop()
            if current in defs or current not in components:
                continue
            found: set[str] = set()
            defs[current] = rewrite(components[current], found)
            pending.extend(found - set(defs))
        result[tool] = {"type": "object", "$ref": f"#/$defs/{name}", "$defs": defs}
    return result


def contract_output_schemas() -> dict[str, dict[str, Any]]:
    """The output schemas of this installation's API contract (web/openapi/)."""
    from web.openapi import document

    return {**api_output_schemas(document()["components"]["schemas"]), "delete_task": DELETED_TASK}


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False,
            **extra}


def _task_line(task: Mapping[str, Any]) -> str:
    bits = [f"{task.get('title')!r} [{task.get('priority')}]"]
    if task.get("due_date"):
        bits.append(f"due {task['due_date']}")
    if task.get("tags"):
        bits.append("#" + " #".join(task["tags"]))
    if task.get("completed"):
        bits.append("done")
    return f"{' '.join(bits)} (id {task.get('id')})"


def _page_sentence(body: Mapping[str, Any], what: str) -> str:
    tasks = body.get("tasks", [])
    total = body.get("total")
    total_text = f"{total}" if body.get("total_exact", True) else f"at least {total}"
    head = f"{len(tasks)} {what} of {total_text}" if total is not None else f"{len(tasks)} {what}"
    more = " More: pass cursor=next_cursor." if body.get("next_cursor") else ""
    lines = "".join(f"\n- {_task_line(t)}" for t in tasks)
    return f"{head}.{more}{lines}"


class TaskTools:
    """The tools: argument checks, natural dates, one REST call each, the API's answer plus a sentence."""

    def __init__(self, api: RestClient, *, default_timezone: str | None = "UTC",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 output_schemas: Mapping[str, dict[str, Any]] | None = None) -> None:
        self.api, self.default_timezone, self.clock = api, default_timezone, clock
        outputs = output_schemas or {}
        self.tools = {tool.name: replace(tool, output_schema=outputs.get(tool.name)) for tool in self._define()}
        self._validators = {
            name: Draft202012Validator(tool.input_schema, format_checker=FormatChecker())
            for name, tool in self.tools.items()
        }

    # -- calling -----------------------------------------------------------------------------------

    async def call(self, name: str, arguments: Mapping[str, Any] | None) -> types.CallToolResult:
        tool = self.tools.get(name)
        if tool is None:
            return _error(f"unknown tool {name!r}; the tools are {', '.join(sorted(self.tools))}")
        args = dict(arguments or {})
        # The API takes any case; so do we, while the schema shows the canonical values.
        if isinstance(args.get("priority"), str):
            args["priority"] = args["priority"].strip().upper()
        elif isinstance(args.get("priority"), list):
            args["priority"] = [p.strip().upper() if isinstance(p, str) else p for p in args["priority"]]
        problems = sorted(self._validators[name].iter_errors(args), key=lambda e: list(e.path))
        if problems:
            return _error(_schema_message(problems[0]), field=_field(problems[0]))
        if self.default_timezone is None:
            self.default_timezone = await self._settings_zone()
        try:
            structured, sentence = await tool.handler(args)
        except ToolError as exc:
            return _error(exc.message, **exc.details)
        except ApiFailure as exc:
            return _error(f"{name} failed: {exc.message}", status=exc.status,
                          api_error=exc.body.get("error") if isinstance(exc.body, dict) else None,
                          field=exc.details.get("field"))
        except Exception as exc:  # a bug here must not look like a dropped connection to the assistant
            log.exception("tool %s failed with arguments %s", name, sorted(args))
            return _error(f"{name} failed inside the MCP server: {type(exc).__name__}: {exc}")
        return types.CallToolResult(
            content=[types.TextContent(text=sentence),
                     types.TextContent(text=json.dumps(structured, ensure_ascii=False))],
            structured_content=structured,
        )

    # -- helpers -----------------------------------------------------------------------------------

    async def _settings_zone(self) -> str:
        """The time zone in the user's settings; UTC from a server without them or when it cannot be read."""
        try:
            body = await self.api.request("GET", "/api/settings")
            name = body.get("time_zone") if isinstance(body, dict) else None
            natural_dates.zone(name)
            return name or "UTC"
        except Exception as exc:  # the tools still work, reading times in UTC
            log.warning("could not read the time zone from /api/settings (%s); reading times in UTC",
                        type(exc).__name__)
            return "UTC"

    def _zone(self, args: Mapping[str, Any]):
        try:
            return natural_dates.zone(args.get("timezone") or self.default_timezone)
        except natural_dates.TimeZoneError as exc:
            raise ToolError(f"timezone: {exc}", field="timezone") from None

    def _when(self, args: Mapping[str, Any], field: str, *,
              default_time: time = natural_dates.DEFAULT_TIME) -> natural_dates.Resolved:
        try:
            return natural_dates.resolve(args[field], now=self.clock(), tz=self._zone(args),
                                         default_time=default_time)
        except natural_dates.DateParseError as exc:
            raise ToolError(f"{field}: {exc}", field=field) from None

    async def _task_call(self, method: str, task_id: str, suffix: str = "", **kwargs: Any) -> Any:
        try:
            return await self.api.request(method, f"/api/tasks/{task_id}{suffix}", **kwargs)
        except ApiFailure as exc:
            if exc.status == 404 and not exc.route_missing:
                if exc.message.startswith("tag "):
                    raise ToolError(f"task {task_id} has no tag {exc.details.get('id')!r}; get_task shows its tags",
                                    status=404, field="tag") from None
                raise ToolError(f"no task {task_id} (it does not exist or is not yours)",
                                status=404, field="task_id") from None
            raise

    async def _optional_route(self, feature: str, method: str, path: str, **kwargs: Any) -> Any:
        """A call to a route newer servers have: a clear error instead of a bare 404 from older ones."""
        try:
            return await self.api.request(method, path, **kwargs)
        except ApiFailure as exc:
            if exc.route_missing:
                raise ToolError(f"this server does not support {feature} yet ({exc.status} from {method} "
                                f"{path})", status=exc.status) from None
            raise

    # -- the tools ---------------------------------------------------------------------------------

    async def add_task(self, args: dict[str, Any]) -> tuple[Any, str]:
        body = {k: args[k] for k in ("title", "description", "priority", "tags") if k in args}
        due = None
        if args.get("due_date"):
            due = self._when(args, "due_date")
            body["due_date"] = due.iso()
        task = await self.api.request("POST", "/api/tasks", body=body)
        return task, f"Added task {task['title']!r} (id {task['id']})" + (f", due {due.describe()}." if due else ".")

    async def quick_add(self, args: dict[str, Any]) -> tuple[Any, str]:
        body = {"text": args["text"], "time_zone": str(self._zone(args).key)}
        dry_run = bool(args.get("dry_run"))
        try:
            answer = await self._optional_route("quick add", "POST", "/api/tasks/quick-add", body=body,
                                                params={"dry_run": True} if dry_run else None)
        except ApiFailure as exc:
            if exc.status == 400 and exc.details.get("field") == "text":
                # The API's message names the part it did not understand; pass it on as it is.
                raise ToolError(f"quick_add could not read the text: {exc.message}", status=400, field="text",
                                part=exc.details.get("part")) from None
            raise
        if dry_run:
            return answer, f"Would add {answer['summary']} (nothing created)."
        created = answer.get("task") or answer.get("recurring_task") or {}
        what = "recurring task" if answer["kind"] == "recurring" else "task"
        return answer, f"Added {what} {answer['summary']} (id {created.get('id')})."

    async def get_task(self, args: dict[str, Any]) -> tuple[Any, str]:
        task = await self._task_call("GET", args["task_id"])
        return task, _task_line(task)

    async def list_tasks(self, args: dict[str, Any]) -> tuple[Any, str]:
        params = {k: args.get(k) for k in ("completed", "limit", "cursor")}
        body = await self.api.request("GET", "/api/tasks", params=params)
        return body, _page_sentence(body, "tasks")

    async def update_task(self, args: dict[str, Any]) -> tuple[Any, str]:
        body = {k: args[k] for k in ("title", "description", "priority", "tags", "completed") if k in args}
        due = None
        if "due_date" in args:
            if args["due_date"] is None:
                body["due_date"] = None
            else:
                due = self._when(args, "due_date")
                body["due_date"] = due.iso()
        if not body:
            raise ToolError("update_task needs at least one field to change: title, description, due_date, "
                            "priority, tags or completed")
        task = await self._task_call("PATCH", args["task_id"], body=body)
        changed = ", ".join(sorted(body))
        return task, f"Updated {changed} of task {task['title']!r}" + (f"; due {due.describe()}." if due else ".")

    async def complete_task(self, args: dict[str, Any]) -> tuple[Any, str]:
        task = await self._task_call("POST", args["task_id"], "/complete")
        return task, f"Marked {task['title']!r} done."

    async def uncomplete_task(self, args: dict[str, Any]) -> tuple[Any, str]:
        task = await self._task_call("POST", args["task_id"], "/uncomplete")
        return task, f"Marked {task['title']!r} not done."

    async def delete_task(self, args: dict[str, Any]) -> tuple[Any, str]:
        await self._task_call("DELETE", args["task_id"])
        return {"deleted": True, "task_id": args["task_id"]}, \
            f"Deleted task {args['task_id']}; its history stays readable with get_task_history."

    async def set_task_priority(self, args: dict[str, Any]) -> tuple[Any, str]:
        task = await self._task_call("PATCH", args["task_id"], "/priority", body={"priority": args["priority"]})
        return task, f"{task['title']!r} is now {task['priority']} priority."

    async def set_task_due_date(self, args: dict[str, Any]) -> tuple[Any, str]:
        if args["due_date"] is None:
            task = await self._task_call("PATCH", args["task_id"], "/due-date", body={"due_date": None})
            return task, f"{task['title']!r} has no due date now."
        due = self._when(args, "due_date")
        task = await self._task_call("PATCH", args["task_id"], "/due-date", body={"due_date": due.iso()})
        return task, f"{task['title']!r} is due {due.describe()}."

    async def add_task_tags(self, args: dict[str, Any]) -> tuple[Any, str]:
        task = await self._task_call("POST", args["task_id"], "/tags", body={"tags": args["tags"]})
        return task, f"{task['title']!r} is tagged " + (" ".join(f"#{t}" for t in task["tags"]) or "with nothing") + "."

    async def remove_task_tag(self, args: dict[str, Any]) -> tuple[Any, str]:
        task = await self._task_call("DELETE", args["task_id"], f"/tags/{quote(args['tag'], safe='')}")
        return task, f"Removed #{args['tag'].strip().lower()} from {task['title']!r}."

    async def search_tasks(self, args: dict[str, Any]) -> tuple[Any, str]:
        params = {"search": args["query"], **{k: args.get(k) for k in ("completed", "limit", "cursor")}}
        body = await self.api.request("GET", "/api/tasks", params=params)
        return body, _page_sentence(body, f"tasks matching {args['query']!r}")

    async def filter_tasks(self, args: dict[str, Any]) -> tuple[Any, str]:
        names = ("priority", "tags", "tags_mode", "completed", "due_before", "due_after", "overdue", "has_due_date",
                 "recurring", "filter", "limit", "cursor")
        params = {k: args.get(k) for k in names}
        params["tz"] = str(self._zone(args).key)
        body = await self.api.request("GET", "/api/tasks", params=params)
        return body, _page_sentence(body, "matching tasks")

    async def sort_tasks(self, args: dict[str, Any]) -> tuple[Any, str]:
        params = {k: args.get(k) for k in ("sort_by", "sort_order", "completed", "limit", "cursor")}
        body = await self.api.request("GET", "/api/tasks", params=params)
        order = args.get("sort_order") or "the default order"
        return body, _page_sentence(body, f"tasks by {args['sort_by']} ({order})")

    async def create_recurring_task(self, args: dict[str, Any]) -> tuple[Any, str]:
        rule_fields = ("frequency", "interval", "by_weekday", "by_month_day", "by_nth_weekday", "cron", "rrule",
                       "count", "repeat_from")
        body = {k: args[k] for k in ("title", "description", "priority", "tags", "reminders", *rule_fields)
                if k in args}
        tz = self._zone(args)
        body["timezone"] = str(tz.key)
        start = self._when({**args, "start_date": args.get("start_date") or "9am"}, "start_date")
        body["start_date"] = start.iso()
        if args.get("end_date"):
            body["end_date"] = self._when(args, "end_date", default_time=time(23, 59, 59)).iso()
        template = await self._optional_route("recurring tasks", "POST", "/api/recurring-tasks", body=body)
        nxt = template.get("next_occurrence")
        return template, (f"Created recurring task {template['title']!r} (id {template['id']}), starting "
                          f"{start.describe()}" + (f"; next occurrence {nxt}." if nxt else "."))

    async def list_recurring_tasks(self, args: dict[str, Any]) -> tuple[Any, str]:
        params = {k: args.get(k) for k in ("status", "limit", "offset")}
        body = await self._optional_route("recurring tasks", "GET", "/api/recurring-tasks", params=params)
        items = body.get("recurring_tasks", [])
        lines = "".join(
            f"\n- {t['title']!r} {t.get('frequency') or t.get('cron') or t.get('rrule')} {t['status']}, "
            f"next {t.get('next_occurrence')} (id {t['id']})" for t in items)
        return body, f"{len(items)} recurring tasks of {body.get('total', len(items))}.{lines}"

    async def stop_recurring_task(self, args: dict[str, Any]) -> tuple[Any, str]:
        ident, mode = args["recurring_task_id"], args.get("mode", "pause")
        path = f"/api/recurring-tasks/{ident}"
        try:
            if mode == "delete":
                await self._optional_route("recurring tasks", "DELETE", path)
                return {"deleted": True, "recurring_task_id": ident}, (
                    f"Deleted recurring task {ident}; the tasks it already created stay, unlinked.")
            template = await self._optional_route("recurring tasks", "POST", path + "/pause")
        except ApiFailure as exc:
            if exc.status == 404:
                raise ToolError(f"no recurring task {ident} (it does not exist or is not yours)",
                                status=404, field="recurring_task_id") from None
            raise
        return template, f"Paused recurring task {template['title']!r}: no new occurrences until it is resumed."

    async def add_reminder(self, args: dict[str, Any]) -> tuple[Any, str]:
        given = [k for k in ("remind_at", "before_due") if args.get(k)]
        if len(given) != 1:
            raise ToolError("give exactly one of remind_at (when, e.g. 'tomorrow 9am') or before_due "
                            "(an ISO-8601 duration before the due date, e.g. PT1H)", field="remind_at")
        at = None
        body: dict[str, Any]
        if given == ["remind_at"]:
            at = self._when(args, "remind_at")
            body = {"remind_at": at.iso()}
        else:
            body = {"before_due": args["before_due"]}
        try:
            reminder = await self._optional_route("reminders", "POST", f"/api/tasks/{args['task_id']}/reminders",
                                                  body=body)
        except ApiFailure as exc:
            if exc.status == 404:
                raise ToolError(f"no task {args['task_id']} (it does not exist or is not yours)",
                                status=404, field="task_id") from None
            raise
        when = at.describe() if at else f"{args['before_due']} before the due date ({reminder['remind_at']})"
        return reminder, f"Reminder set for {when} (id {reminder['id']})."

    async def list_reminders(self, args: dict[str, Any]) -> tuple[Any, str]:
        if args.get("task_id"):
            try:
                body = await self._optional_route("reminders", "GET", f"/api/tasks/{args['task_id']}/reminders")
            except ApiFailure as exc:
                if exc.status == 404:
                    raise ToolError(f"no task {args['task_id']} (it does not exist or is not yours)",
                                    status=404, field="task_id") from None
                raise
        else:
            params = {"upcoming": args.get("upcoming"), "limit": args.get("limit")}
            body = await self._optional_route("reminders", "GET", "/api/reminders", params=params)
        items = body.get("reminders", [])
        lines = "".join(f"\n- {r['remind_at']} for task {r['task_id']}" + (" (sent)" if r.get("sent") else "")
                        for r in items)
        return body, f"{len(items)} reminders.{lines}"

    async def get_task_history(self, args: dict[str, Any]) -> tuple[Any, str]:
        params = {"limit": args.get("limit"), "cursor": args.get("cursor")}
        try:
            body = await self.api.request("GET", f"/api/audit/tasks/{args['task_id']}", params=params)
        except ApiFailure as exc:
            if exc.status == 404:
                raise ToolError(f"no task {args['task_id']} (it does not exist or is not yours)",
                                status=404, field="task_id") from None
            raise
        events = body.get("events", [])
        lines = "".join(f"\n- {e.get('occurred_at')} {e.get('event_type')}" for e in events)
        return body, f"{len(events)} changes, oldest first.{lines}"

    # -- the catalogue -----------------------------------------------------------------------------

    def _define(self) -> list[Tool]:
        task_only = obj({"task_id": TASK_ID}, ("task_id",))
        returns_task = " Returns the task as the API stores it (id, title, description, completed, due_date in " \
                       "UTC, priority, tags, version, timestamps)."
        list_note = (" Returns {tasks, total, total_exact, limit, offset, next_cursor}; pass next_cursor as "
                     "cursor for the next page.")
        return [
            Tool("add_task", "Create a new task for the user. Use it when the user asks to add, remember or "
                 "schedule something to do. Only title is required; due_date accepts natural language. "
                 + NATURAL_DATE_HELP + returns_task,
                 obj({"title": TITLE, "description": DESCRIPTION,
                      "due_date": {"type": "string", "minLength": 1, "description": "When it is due. "
                                   + NATURAL_DATE_HELP},
                      "priority": {**PRIORITY, "default": "MEDIUM"}, "tags": TAGS, "timezone": TIMEZONE},
                     ("title",)),
                 self.add_task),
            Tool("quick_add", "Create a task or a recurring task from one line the way the user said it, e.g. "
                 "'Pay rent every month on the last day #home !high', 'Call mom tomorrow 5pm remind me 30 min "
                 "before', 'Standup every weekday at 9:30 #work', 'Water plants every! 3 days' (every! = from "
                 "completion). Understands due dates and times (a date alone = all day), schedules, #tags, "
                 "!high/!medium/!low (or !1/!2/!3) and 'remind me N min/hours before'; the other words are the "
                 "title. Anything it cannot read for certain is an error naming that part (nothing is guessed). "
                 "dry_run: true previews without creating. Returns {kind, understood, summary, task | "
                 "recurring_task}; check the summary with the user.",
                 obj({"text": {"type": "string", "minLength": 1, "maxLength": 1000,
                               "description": "The line, in the user's words."},
                      "dry_run": {"type": "boolean", "default": False,
                                  "description": "true: only say what would be created."},
                      "timezone": TIMEZONE}, ("text",)),
                 self.quick_add),
            Tool("get_task", "Read one task by id. Use it to check a task's current state before changing it."
                 + returns_task, task_only, self.get_task, read_only=True),
            Tool("list_tasks", "List the user's tasks, newest first, one page at a time. Use it to browse; use "
                 "search_tasks for words in the title or description, filter_tasks for conditions (priority, "
                 "tags, due dates), sort_tasks for another order." + list_note,
                 obj({"completed": COMPLETED_FILTER, "limit": LIMIT, "cursor": CURSOR}), self.list_tasks,
                 read_only=True),
            Tool("update_task", "Change several fields of a task at once (title, description, due_date, priority, "
                 "tags, completed). tags REPLACES the whole list (use add_task_tags / remove_task_tag to change "
                 "one); due_date null clears it. For a single change prefer the specific tools. "
                 + NATURAL_DATE_HELP + returns_task,
                 obj({"task_id": TASK_ID, "title": TITLE, "description": {**DESCRIPTION, "type": ["string", "null"]},
                      "due_date": {"type": ["string", "null"], "minLength": 1,
                                   "description": "New due date, or null to clear it. " + NATURAL_DATE_HELP},
                      "priority": PRIORITY, "tags": TAGS, "completed": {"type": "boolean"}, "timezone": TIMEZONE},
                     ("task_id",), minProperties=2),
                 self.update_task),
            Tool("complete_task", "Mark a task done (sets completed_at). Completing a task created by a recurring "
                 "task may create its next occurrence." + returns_task, task_only, self.complete_task,
                 ),
            Tool("uncomplete_task", "Mark a done task as not done again." + returns_task, task_only,
                 self.uncomplete_task),
            Tool("delete_task", "Delete a task permanently (its reminders go too; its history stays readable with "
                 "get_task_history). Ask the user first unless they clearly asked for deletion. Returns "
                 "{deleted: true, task_id}.", task_only, self.delete_task, destructive=True),
            Tool("set_task_priority", "Set a task's priority to LOW, MEDIUM or HIGH." + returns_task,
                 obj({"task_id": TASK_ID, "priority": PRIORITY}, ("task_id", "priority")), self.set_task_priority),
            Tool("set_task_due_date", "Set or clear a task's due date (null clears it). Relative reminders move "
                 "with it. " + NATURAL_DATE_HELP + returns_task,
                 obj({"task_id": TASK_ID,
                      "due_date": {"type": ["string", "null"], "minLength": 1, "description": NATURAL_DATE_HELP},
                      "timezone": TIMEZONE}, ("task_id", "due_date")),
                 self.set_task_due_date),
            Tool("add_task_tags", "Add tags to a task, keeping the ones it has (de-duplicated, lower-cased; a task "
                 "has at most 10)." + returns_task,
                 obj({"task_id": TASK_ID, "tags": {**TAGS, "minItems": 1}}, ("task_id", "tags")), self.add_task_tags),
            Tool("remove_task_tag", "Remove one tag from a task; an error if the task does not have it."
                 + returns_task,
                 obj({"task_id": TASK_ID, "tag": TAG}, ("task_id", "tag")), self.remove_task_tag),
            Tool("search_tasks", "Full-text search in titles and descriptions (stemmed, prefixes, \"quoted "
                 "phrases\", tolerant of misspellings), best matches first. Use it when the user names a task by "
                 "its words instead of its id." + list_note,
                 obj({"query": {"type": "string", "minLength": 1, "maxLength": 200}, "completed": COMPLETED_FILTER,
                      "limit": LIMIT, "cursor": CURSOR}, ("query",)),
                 self.search_tasks, read_only=True),
            Tool("filter_tasks", "List tasks matching conditions, all of which must hold: priorities, tags, done "
                 "or not, due before/after, overdue, with or without a due date, recurring, or an expression in the "
                 "filter language (e.g. 'priority:high & #work & due<7d & !done'). Dates given as a day (YYYY-MM-DD) "
                 "mean midnight at its start in timezone." + list_note,
                 obj({"priority": {"type": "array", "items": PRIORITY, "minItems": 1, "uniqueItems": True,
                                   "description": "Any of these priorities."},
                      "tags": {**TAGS, "minItems": 1, "description": "Tasks with these tags (see tags_mode)."},
                      "tags_mode": {"type": "string", "enum": ["all", "any"], "default": "all",
                                    "description": "all: every tag given; any: at least one."},
                      "completed": COMPLETED_FILTER,
                      "due_before": {"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}],
                                     "description": "Due before this instant (ISO-8601 with offset) or day."},
                      "due_after": {"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}],
                                    "description": "Due after this instant (ISO-8601 with offset) or day."},
                      "overdue": {"type": "boolean", "description": "true: open tasks past their due date."},
                      "has_due_date": {"type": "boolean"},
                      "recurring": {"type": "boolean", "description": "true: only tasks made by a recurring task."},
                      "filter": {"type": "string", "minLength": 1, "description":
                                 "Filter language: priority:high, #tag, due<7d, due:today, done, !done, &, |, "
                                 "parentheses."},
                      "timezone": TIMEZONE, "limit": LIMIT, "cursor": CURSOR}),
                 self.filter_tasks, read_only=True),
            Tool("sort_tasks", "List tasks in a chosen order (e.g. soonest due first, highest priority first). "
                 "Tasks without a value for the sort field come last." + list_note,
                 obj({"sort_by": {"type": "string", "enum": SORT_FIELDS},
                      "sort_order": {"type": "string", "enum": ["asc", "desc"],
                                     "description": "Default: asc, except priority (HIGH first)."},
                      "completed": COMPLETED_FILTER, "limit": LIMIT, "cursor": CURSOR}, ("sort_by",)),
                 self.sort_tasks, read_only=True),
            Tool("create_recurring_task", "Create a recurring task: a template that creates a new task on a "
                 "schedule (e.g. every weekday, the last Friday of each month). Give exactly one of frequency "
                 "(with interval and by_* options), cron or rrule. start_date (natural language, default 09:00 "
                 "today or tomorrow) is the first occurrence's due time. Returns the template with "
                 "next_occurrence.",
                 obj({"title": TITLE, "description": DESCRIPTION, "priority": PRIORITY, "tags": TAGS,
                      "frequency": {"type": "string", "enum": ["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]},
                      "interval": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1,
                                   "description": "Every N days/weeks/months/years."},
                      "by_weekday": {"type": "array", "items": {"type": "string", "enum": WEEKDAYS}, "minItems": 1,
                                     "uniqueItems": True, "description": "WEEKLY only: on these days."},
                      "by_month_day": {"type": "integer", "minimum": -1, "maximum": 31, "not": {"const": 0},
                                       "description": "MONTHLY only: day 1-31, or -1 for the last day."},
                      "by_nth_weekday": {"type": "string", "examples": ["2TU", "-1FR", "last FR"],
                                         "description": "MONTHLY only: the nth weekday, e.g. 2TU, -1FR."},
                      "cron": {"type": "string", "description": "Five-field cron expression, e.g. '0 9 * * 1-5'."},
                      "rrule": {"type": "string", "description": "RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO,WE"},
                      "start_date": {"type": "string", "minLength": 1, "description": NATURAL_DATE_HELP},
                      "end_date": {"type": "string", "minLength": 1,
                                   "description": "Last day (inclusive); natural language accepted."},
                      "count": {"type": "integer", "minimum": 1, "description": "Stop after this many."},
                      "repeat_from": {"type": "string", "enum": ["due_date", "completion_date"],
                                      "default": "due_date",
                                      "description": "completion_date: the next one counts from when the previous "
                                                     "was completed."},
                      "reminders": {"type": "array", "maxItems": 5, "items": {"type": "string", "examples": ["PT1H"]},
                                    "description": "Reminders before each occurrence's due date, as ISO-8601 "
                                                   "durations: PT15M, PT1H, P1D."},
                      "timezone": TIMEZONE}, ("title",)),
                 self.create_recurring_task),
            Tool("list_recurring_tasks", "List the user's recurring tasks (templates) with their schedules, status "
                 "and next occurrence. Returns {recurring_tasks, total, limit, offset}.",
                 obj({"status": {"type": "string", "enum": ["active", "paused", "ended"]},
                      "limit": LIMIT, "offset": {"type": "integer", "minimum": 0, "default": 0}}),
                 self.list_recurring_tasks, read_only=True),
            Tool("stop_recurring_task", "Stop a recurring task creating new tasks. mode 'pause' (default) keeps "
                 "it and can be resumed later; 'delete' removes the template for good (tasks it already created "
                 "stay). Returns the paused template, or {deleted: true, recurring_task_id}.",
                 obj({"recurring_task_id": {"type": "string", "format": "uuid",
                                            "description": "The id from list_recurring_tasks."},
                      "mode": {"type": "string", "enum": ["pause", "delete"], "default": "pause"}},
                     ("recurring_task_id",)),
                 self.stop_recurring_task, destructive=True),
            Tool("add_reminder", "Remind the user about a task: give remind_at (a time; natural language) or "
                 "before_due (an ISO-8601 duration before the task's due date, e.g. PT1H, P1D; it moves with the "
                 "due date), exactly one. " + NATURAL_DATE_HELP + " Returns the reminder {id, task_id, remind_at, "
                 "before_due, sent, sent_at, created_at}.",
                 obj({"task_id": TASK_ID,
                      "remind_at": {"type": "string", "minLength": 1, "description": NATURAL_DATE_HELP},
                      "before_due": {"type": "string", "pattern": r"^[Pp](?=.)(?:\d+[Ww])?(?:\d+[Dd])?(?:[Tt](?=\d)"
                                     r"(?:\d+[Hh])?(?:\d+[Mm])?(?:\d+[Ss])?)?$", "examples": ["PT1H", "P1D"]},
                      "timezone": TIMEZONE}, ("task_id",)),
                 self.add_reminder),
            Tool("list_reminders", "List reminders, soonest first: one task's (task_id) or all of the user's "
                 "(upcoming: only those not sent yet). Returns {reminders: [...]}.",
                 obj({"task_id": TASK_ID, "upcoming": {"type": "boolean"},
                      "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}}),
                 self.list_reminders, read_only=True),
            Tool("get_task_history", "The audit trail of one task: every change (created, updated, completed, "
                 "uncompleted, deleted) with before/after values, oldest first; readable after deletion. Use it to "
                 "answer 'what changed' or 'when was this done'. Returns {task_id, events, next_cursor}.",
                 obj({"task_id": TASK_ID, "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                      "cursor": CURSOR}, ("task_id",)),
                 self.get_task_history, read_only=True),
        ]


def _error(message: str, **details: Any) -> types.CallToolResult:
    details = {k: v for k, v in details.items() if v is not None}
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True,
                                structured_content={"error": message, **details})


def _field(error) -> str | None:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        return error.message.split("'")[1] if "'" in error.message else None
    if error.validator == "additionalProperties":
        return None
    return path[0] if path else None


def _schema_message(error) -> str:
    field = _field(error)
    if error.validator == "enum":
        return f"{field}: must be one of {', '.join(map(str, error.validator_value))}, got {error.instance!r}"
    if error.validator == "format" and error.validator_value == "uuid":
        return (f"{field}: {error.instance!r} is not an id (a UUID such as 0b8f…-…); use list_tasks or "
                "search_tasks to find it")
    if error.validator == "required":
        return f"{field}: is required"
    if error.validator == "minProperties":
        return "name at least one field to change besides task_id"
    return f"{field}: {error.message}" if field else error.message


def build_server(tools: TaskTools) -> Server:
    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[tool.definition() for tool in tools.tools.values()])

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        return await tools.call(params.name, params.arguments)

    return Server(
        "taskstream", version="0.1.0",
        instructions="Manage the user's tasks in taskstream: add, find, change, complete, tag, schedule recurring "
                     "tasks and reminders. Times are read in the user's time zone; confirm the echoed time.",
        on_list_tools=list_tools, on_call_tool=call_tool,
    )


async def serve(config: McpConfig, *, transport: str = "stdio", host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until the client disconnects (stdio) or the process is interrupted (streamable HTTP)."""
    api = RestClient(config.api_url, config.token)
    server = build_server(TaskTools(api, default_timezone=config.timezone, output_schemas=contract_output_schemas()))
    try:
        if transport == "stdio":
            from mcp.server.stdio import stdio_server

            async with stdio_server() as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())
        else:
            import uvicorn

            app = server.streamable_http_app(host=host)
            await uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).serve()
    finally:
        await api.close()


__all__ = ["ApiFailure", "McpConfig", "RestClient", "TaskTools", "ToolError", "build_server", "serve"]
