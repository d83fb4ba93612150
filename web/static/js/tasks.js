/** The task list: loads pages from the API, renders them, and applies live changes in place. */

import { ApiError, api } from "./api.js";
import { debounce, h, setMessage } from "./dom.js";
import { PAGE_SIZE } from "./filters.js";
import { fromNow, isDueSoon, isOverdue, localDateTime } from "./format.js";

const PRIORITY_LABEL = { HIGH: "High", MEDIUM: "Medium", LOW: "Low" };
const MAX_PAGE = 100;

export class TaskList {
  /**
   * @param {object} elements list, empty, total, more, error
   * @param {object} actions onToggle(task), onEdit(task), onDelete(task), onFilterError(error|null), onRendered()
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
    this.el.list.replaceChildren();
    this.el.total.textContent = "";
  }

  knownTags() {
    return [...new Set(this.tasks.flatMap((t) => t.tags))].sort();
  }

  /** Keyed rendering: rows are reused, so focus stays where it was while updates arrive. */
  render() {
    const list = this.el.list;
    const rows = new Map(Array.from(list.children, (row) => [row.dataset.id, row]));
    let previous = null;
    for (const task of this.tasks) {
      let row = rows.get(task.id);
      const key = `${task.version}|${task.completed}|${isOverdue(task)}|${(task.due_date ? fromNow(task.due_date) : "")}`;
      if (!row) {
        row = this.row(task);
      } else if (row.dataset.key !== key) {
        const fresh = this.row(task);
        const focused = row.contains(document.activeElement) ? document.activeElement.dataset.role : null;
        row.replaceWith(fresh);
        row = fresh;
        if (focused) row.querySelector(`[data-role="${focused}"]`)?.focus();
      }
      row.dataset.key = key;
      rows.delete(task.id);
      const expected = previous ? previous.nextElementSibling : list.firstElementChild;
      if (expected !== row) list.insertBefore(row, expected);
      previous = row;
    }
    for (const row of rows.values()) row.remove();
    if (this.fresh) {
      list.querySelector(`[data-id="${this.fresh}"]`)?.classList.add("is-new");
      this.fresh = null;
    }
    const count = this.totalExact ? this.total : `${this.total}+`;
    this.el.total.textContent = this.query ? `· ${count}` : "";
    this.el.empty.hidden = this.tasks.length > 0 || !this.query;
    this.el.more.hidden = !this.nextCursor;
    this.actions.onRendered?.();
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

function due(task, overdue) {
  const soon = isDueSoon(task);
  const label = task.completed ? "Was due" : overdue ? "Overdue" : "Due";
  return h("span", { class: `due${overdue ? " overdue" : soon ? " soon" : ""}` },
    `${label} ${fromNow(task.due_date)} · `,
    h("time", { datetime: task.due_date }, localDateTime(task.due_date)));
}
