/** A task's history from its audit trail (GET /api/audit/tasks/{id}): who changed what, newest first. */

import { api } from "./api.js";
import { $, h, setMessage } from "./dom.js";
import { openDialog } from "./dialogs.js";
import { fromNow, localDateTime } from "./format.js";

/** Pages read at most: 200 events each, far more than a task's life usually has. */
const MAX_PAGES = 5;
const VERBS = { created: "Created", updated: "Changed", completed: "Completed", uncompleted: "Reopened",
  deleted: "Deleted" };
const FIELDS = { title: "Title", description: "Description", due_date: "Due", priority: "Priority", tags: "Tags",
  completed: "Done", completed_at: null, all_day: "All day", recurring_task_id: null };

function show(field, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.length ? value.map((t) => `#${t}`).join(" ") : "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (field === "due_date" && /T/.test(value)) return localDateTime(value);
  return String(value);
}

export class TaskHistory {
  constructor() {
    this.dialog = $("#history-dialog");
    this.list = $("#history-list");
  }

  async open(task) {
    $("#history-title").textContent = `History of “${task.title}”`;
    setMessage($("#history-error"), "");
    this.list.replaceChildren(h("li", { class: "muted" }, "Loading…"));
    openDialog(this.dialog, { focus: "#history-dialog .close" });
    try {
      const events = [];
      let cursor = null;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const answer = await api.get(`/api/audit/tasks/${task.id}`, { params: { limit: 200, cursor } });
        events.push(...answer.events);
        cursor = answer.next_cursor;
        if (!cursor) break;
      }
      events.reverse();
      this.list.replaceChildren(...events.map((event) => this.row(event)));
      if (!events.length) this.list.append(h("li", { class: "muted" }, "No changes recorded."));
    } catch (error) {
      this.list.replaceChildren();
      setMessage($("#history-error"), error.status === 404
        ? "No history for this task (it belongs to someone else or never existed)."
        : `Could not load the history: ${error.message}`);
    }
  }

  row(event) {
    const changes = Object.entries(event.changes || {})
      .filter(([field]) => FIELDS[field] !== null && !(event.event_type !== "updated" && field === "completed"));
    const detail = event.event_type === "created"
      ? [h("li", {}, `“${event.after?.title ?? ""}”`)]
      : event.event_type === "updated" || changes.length
        ? changes.map(([field, { from, to }]) => h("li", { dataset: { field } },
          h("span", { class: "field" }, FIELDS[field] || field), ": ",
          h("del", {}, show(field, from)), " → ", h("ins", {}, show(field, to))))
        : [];
    return h("li", { class: "history-event", dataset: { type: event.event_type } },
      h("div", { class: "history-head" },
        h("strong", {}, VERBS[event.event_type] || event.event_type),
        h("time", { datetime: event.occurred_at, title: localDateTime(event.occurred_at) }, fromNow(event.occurred_at))),
      detail.length ? h("ul", { class: "history-changes" }, detail) : null);
  }
}
