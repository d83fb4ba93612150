/** The task list: loads pages from the API, renders them, and applies live changes in place. */

import { ApiError, api } from "./api.js";
import { debounce, h, setMessage } from "./dom.js";
import { PAGE_SIZE } from "./filters.js";
import { calendarDay, fromNow, fromToday, isDueSoon, isOverdue, localDateTime } from "./format.js";
import { groupTasks } from "./groups.js";
import { dueDay, isAllDay, zone } from "./zone.js";

const PRIORITY_LABEL = { HIGH: "High", MEDIUM: "Medium", LOW: "Low" };
const MAX_PAGE = 100;

export class TaskList {
  /**
   * @param {object} elements list, empty, total, more, error
   * @param {object} actions onToggle(task), onEdit(task), onDelete(task), onHistory(task) (optional),
   *   onFilterError(error|null), onRendered()
   */
  constructor(elements, actions) {
    this.el = elements;
    this.actions = actions;
    this.tasks = [];
    this.total = 0;
    this.totalExact = true;
    this.nextCursor = null;
    this.query = null;
    this.loading = null;
    this.generation = 0;
    this.fresh = null;
    this.selectedId = null;
    this.reconcileSoon = debounce(() => this.load({ quiet: true }), 400);
  }

  /** New filters: start from the first page. */
  setQuery(query) {
    this.query = query;
    return this.load();
  }

  /** Fetch the first page again; `quiet` keeps what is shown until the answer is in. */
  async load({ quiet = false } = {}) {
    if (!this.query) return;
    this.reconcileSoon.cancel();
    this.loading?.abort();
    const controller = new AbortController();
    this.loading = controller;
    const generation = ++this.generation;
    const limit = quiet ? Math.min(MAX_PAGE, Math.max(PAGE_SIZE, this.tasks.length)) : PAGE_SIZE;
    this.el.list.setAttribute("aria-busy", "true");
    try {
      const page = await api.get("/api/tasks", { params: { ...this.query.params, limit }, signal: controller.signal });
      if (generation !== this.generation) return;
      this.actions.onFilterError(null);
      setMessage(this.el.error, "");
      this.tasks = page.tasks;
      this.total = page.total;
      this.totalExact = page.total_exact !== false;
      this.nextCursor = page.next_cursor || null;
      this.render();
    } catch (error) {
      if (error.name === "AbortError" || generation !== this.generation) return;
      if (error instanceof ApiError && error.status === 400 && error.details.field === "filter") {
        this.actions.onFilterError(error);
        return;
      }
      if (error instanceof ApiError && error.status === 401) return; // signing out already
      setMessage(this.el.error, `Could not load tasks: ${error.message}`);
    } finally {
      if (generation === this.generation) {
        this.loading = null;
        this.el.list.setAttribute("aria-busy", "false");
      }
    }
  }

  async loadMore() {
    if (!this.nextCursor || !this.query) return;
    const generation = this.generation;
    try {
      const page = await api.get("/api/tasks", {
        params: { ...this.query.params, limit: PAGE_SIZE, cursor: this.nextCursor },
      });
      if (generation !== this.generation) return;
      const known = new Set(this.tasks.map((t) => t.id));
      this.tasks.push(...page.tasks.filter((t) => !known.has(t.id)));
      this.nextCursor = page.next_cursor || null;
      this.render();
    } catch (error) {
      setMessage(this.el.error, `Could not load more tasks: ${error.message}`);
    }
  }

  find(id) {
    return this.tasks.find((task) => task.id === id) || null;
  }

  /** A live update from /ws (or the answer to our own write): the list changes without a reload. */
  apply(update) {
    const task = update.task;
    const id = update.task_id || task?.id;
    if (update.type === "task.deleted") {
      this.remove(id);
      return;
    }
    if (task) this.upsert(task, { created: update.type === "task.created" });
  }

  /** Put a task where it belongs, unless what we show is newer already (updates may arrive twice). */
  upsert(task, { created = false } = {}) {
    const index = this.tasks.findIndex((t) => t.id === task.id);
    if (index >= 0 && this.tasks[index].version >= task.version) return;
    const verdict = this.query ? this.query.test(task) : true;
    if (index >= 0) {
      if (verdict === false) {
        this.tasks.splice(index, 1);
        this.total = Math.max(0, this.total - 1);
      } else {
        this.tasks[index] = task;
      }
    } else if (verdict !== false) {
      if (this.query?.ordered && verdict === true) {
        if (created || this.tasks.length === 0) {
          this.tasks.unshift(task);
        } else {
          // An older task that now matches: slot it in by creation time, newest first.
          const at = this.tasks.findIndex((t) => t.created_at < task.created_at);
          if (at >= 0) this.tasks.splice(at, 0, task);
          else if (!this.nextCursor) this.tasks.push(task);
          else { this.render(); return; } // it belongs on a page not loaded yet
        }
        this.total += 1;
        this.fresh = task.id;
      }
    }
    this.render();
    // Orders and matches only the server knows (search, filter expressions, sorting): ask it again.
    if (verdict === null || !this.query?.ordered) this.reconcileSoon();
  }

  remove(id) {
    const index = this.tasks.findIndex((t) => t.id === id);
    if (index < 0) return;
    this.tasks.splice(index, 1);
    this.total = Math.max(0, this.total - 1);
    this.render();
  }

  clear() {
    this.generation += 1;
    this.loading?.abort();
    this.query = null;
    this.tasks = [];
    this.total = 0;
    this.nextCursor = null;
    this.selectedId = null;
    this.el.list.replaceChildren();
    this.el.total.textContent = "";
  }

  knownTags() {
    return [...new Set(this.tasks.flatMap((t) => t.tags))].sort();
  }

  /** What the list shows, in order: tasks, under group headings in the default view. */
  entries() {
    if (!this.query?.grouped) return this.tasks.map((task) => ({ task }));
    return groupTasks(this.tasks).flatMap((group) => [{ group }, ...group.tasks.map((task) => ({ task, in: group.key }))]);
  }

  /** Keyed rendering: rows are reused, so focus stays where it was while updates arrive. */
  render() {
    const list = this.el.list;
    const rows = new Map(Array.from(list.children, (row) => [row.dataset.id, row]));
    let previous = null;
    for (const entry of this.entries()) {
      const id = entry.group ? `group-${entry.group.key}` : entry.task.id;
      let row = rows.get(id);
      const key = entry.group ? `${entry.group.label}|${entry.group.tasks.length}` : taskKey(entry.task);
      const build = () => (entry.group ? heading(entry.group) : this.row(entry.task));
      if (!row) {
        row = build();
      } else if (row.dataset.key !== key) {
        const fresh = build();
        const focused = row.contains(document.activeElement) ? document.activeElement.dataset.role : null;
        row.replaceWith(fresh);
        row = fresh;
        if (focused) row.querySelector(`[data-role="${focused}"]`)?.focus();
      }
      row.dataset.key = key;
      if (entry.in) row.dataset.group = entry.in;
      else if (entry.task) delete row.dataset.group;
      rows.delete(id);
      const expected = previous ? previous.nextElementSibling : list.firstElementChild;
      if (expected !== row) list.insertBefore(row, expected);
      previous = row;
    }
    for (const row of rows.values()) row.remove();
    if (this.fresh) {
      list.querySelector(`[data-id="${this.fresh}"]`)?.classList.add("is-new");
      this.fresh = null;
    }
    this.showSelection();
    const count = this.totalExact ? this.total : `${this.total}+`;
    this.el.total.textContent = this.query ? `· ${count}` : "";
    this.el.empty.hidden = this.tasks.length > 0 || !this.query;
    this.el.more.hidden = !this.nextCursor;
    this.actions.onRendered?.();
  }

  // Keyboard selection (j/k/x) -----------------------------------------------------------------

  /** Move the selection `delta` rows down (up when negative); the first move selects the first row. */
  moveSelection(delta) {
    const rows = Array.from(this.el.list.querySelectorAll(":scope > li.task"));
    if (!rows.length) return null;
    const at = rows.findIndex((row) => row.dataset.id === this.selectedId);
    const next = at < 0 ? (delta > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, at + delta));
    this.selectedId = rows[next].dataset.id;
    this.showSelection();
    rows[next].scrollIntoView({ block: "nearest" });
    return this.selected();
  }

  selected() {
    return this.selectedId ? this.find(this.selectedId) : null;
  }

  showSelection() {
    if (this.selectedId && !this.find(this.selectedId)) this.selectedId = null;
    for (const row of this.el.list.querySelectorAll(":scope > li.task")) {
      const on = row.dataset.id === this.selectedId;
      row.classList.toggle("selected", on);
      if (on) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    }
  }

  /** Re-render the relative times ("in 3 days") as time passes. */
  tick() {
    if (this.tasks.length) this.render();
  }

  row(task) {
    const overdue = isOverdue(task);
    const title = task.title;
    return h("li", {
      class: `task${task.completed ? " done" : ""}${overdue ? " overdue" : ""}`,
      dataset: { id: task.id },
    },
    h("input", {
      type: "checkbox", class: "check", checked: task.completed, dataset: { role: "toggle" },
      "aria-label": task.completed ? `Reopen “${title}”` : `Mark “${title}” done`,
      onchange: (event) => {
        event.target.checked = task.completed; // shown once the server agrees
        this.actions.onToggle(task);
      },
    }),
    h("div", { class: "task-main" },
      h("div", { class: "task-title" }, title),
      task.description ? h("p", { class: "task-description" }, task.description) : null,
      h("div", { class: "task-meta" },
        h("span", { class: `badge priority-${task.priority}` }, PRIORITY_LABEL[task.priority] || task.priority),
        task.due_date ? due(task, overdue) : null,
        task.recurring_task_id ? h("span", { class: "muted", title: "Repeats" }, "↻ recurring") : null,
        task.tags.map((tag) => h("span", { class: "tag" }, `#${tag}`)))),
    h("div", { class: "task-actions" },
      this.actions.onHistory ? h("button", {
        type: "button", class: "button subtle small", dataset: { role: "history" },
        "aria-label": `History of “${title}”`, onclick: () => this.actions.onHistory(task),
      }, "History") : null,
      h("button", {
        type: "button", class: "button subtle small", dataset: { role: "edit" },
        "aria-label": `Edit “${title}”`, onclick: () => this.actions.onEdit(task),
      }, "Edit"),
      h("button", {
        type: "button", class: "button subtle small", dataset: { role: "delete" },
        "aria-label": `Delete “${title}”`, onclick: () => this.actions.onDelete(task),
      }, "Delete")));
  }
}

/** What decides a row's look: when it changes, the row is built again. */
function taskKey(task) {
  const when = task.due_date ? (isAllDay(task) ? fromToday(dueDay(task)) : fromNow(task.due_date)) : "";
  return `${task.version}|${task.completed}|${isOverdue(task)}|${when}|${zone()}`;
}

function heading(group) {
  return h("li", { class: "group-head", dataset: { id: `group-${group.key}`, heading: group.key } },
    h("h2", {}, group.label, h("span", { class: "muted small" }, ` · ${group.tasks.length}`)));
}

function due(task, overdue) {
  const soon = isDueSoon(task);
  const label = task.completed ? "Was due" : overdue ? "Overdue" : "Due";
  const className = `due${overdue ? " overdue" : soon ? " soon" : ""}`;
  if (isAllDay(task)) {
    const day = dueDay(task);
    return h("span", { class: className },
      `${label} ${fromToday(day)} · `, h("time", { datetime: day }, calendarDay(day)), " · all day");
  }
  return h("span", { class: className },
    `${label} ${fromNow(task.due_date)} · `,
    h("time", { datetime: task.due_date }, localDateTime(task.due_date)));
}
