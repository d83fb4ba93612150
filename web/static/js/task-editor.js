/** The task dialog: create or edit title, description, priority, due date and tags; a task's reminders. */

import { ApiError, api } from "./api.js";
import { $, h, setMessage } from "./dom.js";
import { openDialog } from "./dialogs.js";
import { describeDuration, fromLocalInput, localDateTime, toLocalInput } from "./format.js";

const splitTags = (text) => [...new Set(text.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean))];

export class TaskEditor {
  /**
   * @param {object} options features, onSaved(task, created), find(id) → the latest task we know
   */
  constructor(options) {
    this.options = options;
    this.dialog = $("#task-dialog");
    this.form = $("#task-form");
    this.task = null;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    $("#reminder-kind").addEventListener("change", () => {
      $("#reminder-at").hidden = $("#reminder-kind").value !== "at";
    });
    $("#add-reminder").addEventListener("click", () => this.addReminder());
    // Enter in the reminder's time adds the reminder rather than saving the whole task.
    $("#reminder-at").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.addReminder();
      }
    });
  }

  open(task = null) {
    this.fill(task);
    setMessage($("#reminder-error"), "");
    const reminders = $("#reminders");
    reminders.hidden = !(task && this.options.features.reminders);
    if (!reminders.hidden) this.loadReminders();
    openDialog(this.dialog, { focus: "#task-title" });
  }

  fill(task) {
    this.task = task;
    const f = this.form.elements;
    $("#task-dialog-title").textContent = task ? "Edit task" : "New task";
    f.title.value = task?.title || "";
    f.description.value = task?.description || "";
    f.priority.value = task?.priority || "MEDIUM";
    f.due_date.value = toLocalInput(task?.due_date);
    f.tags.value = (task?.tags || []).join(", ");
    f.title.removeAttribute("aria-invalid");
    setMessage($("#task-form-error"), "");
  }

  /** The fields to send: everything for a new task, only what changed for an existing one. */
  fields() {
    const f = this.form.elements;
    const values = {
      title: f.title.value.trim(),
      description: f.description.value.trim() || null,
      priority: f.priority.value,
      due_date: fromLocalInput(f.due_date.value),
      tags: splitTags(f.tags.value),
    };
    if (!this.task) return values;
    const changed = {};
    const before = this.task;
    if (values.title !== before.title) changed.title = values.title;
    if (values.description !== (before.description || null)) changed.description = values.description;
    if (values.priority !== before.priority) changed.priority = values.priority;
    // Minutes only: the input cannot show seconds, so equal minutes mean "not touched".
    if (toLocalInput(values.due_date) !== toLocalInput(before.due_date)) changed.due_date = values.due_date;
    if (values.tags.join(",") !== before.tags.join(",")) changed.tags = values.tags;
    return changed;
  }

  async save() {
    const error = $("#task-form-error");
    const title = this.form.elements.title;
    if (!title.value.trim()) {
      title.setAttribute("aria-invalid", "true");
      setMessage(error, "A title is needed.");
      title.focus();
      return;
    }
    title.removeAttribute("aria-invalid");
    const body = this.fields();
    const submit = this.form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      let saved;
      if (!this.task) {
        saved = await api.post("/api/tasks", body);
      } else if (Object.keys(body).length) {
        saved = await api.patch(`/api/tasks/${this.task.id}`, body, { version: this.task.version });
      } else {
        saved = this.task;
      }
      this.dialog.close("saved");
      this.options.onSaved(saved, !this.task);
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 412) {
        // Someone changed it meanwhile: show their version and let the user decide again.
        const current = await api.get(`/api/tasks/${this.task.id}`).catch(() => null);
        if (current) this.fill(current);
        setMessage(error, "This task was changed elsewhere meanwhile. The form now shows the latest version; "
          + "make your change again.");
      } else if (failure instanceof ApiError && failure.status === 404) {
        setMessage(error, "This task no longer exists (deleted elsewhere).");
      } else {
        setMessage(error, failure.message);
      }
    } finally {
      submit.disabled = false;
    }
  }

  // Reminders -------------------------------------------------------------------------------

  async loadReminders() {
    const list = $("#reminder-list");
    list.replaceChildren(h("li", { class: "muted" }, "Loading…"));
    try {
      const { reminders } = await api.get(`/api/tasks/${this.task.id}/reminders`);
      list.replaceChildren(...reminders.map((r) => this.reminderRow(r)));
      if (!reminders.length) list.append(h("li", { class: "muted" }, "No reminders."));
    } catch (error) {
      list.replaceChildren();
      setMessage($("#reminder-error"), `Could not load reminders: ${error.message}`);
    }
  }

  reminderRow(reminder) {
    const when = reminder.before_due
      ? `${describeDuration(reminder.before_due)} before due (${localDateTime(reminder.remind_at)})`
      : `At ${localDateTime(reminder.remind_at)}`;
    return h("li", {},
      h("span", {}, when, reminder.sent ? h("span", { class: "muted" }, " · sent") : null),
      this.options.features.reminderDelete
        ? h("button", {
          type: "button", class: "button subtle small", "aria-label": `Remove reminder: ${when}`,
          onclick: () => this.removeReminder(reminder),
        }, "Remove")
        : null);
  }

  async addReminder() {
    const kind = $("#reminder-kind").value;
    const error = $("#reminder-error");
    let body;
    if (kind === "at") {
      const at = fromLocalInput($("#reminder-at").value);
      if (!at) {
        setMessage(error, "Pick the time to be reminded at.");
        $("#reminder-at").focus();
        return;
      }
      body = { remind_at: at };
    } else {
      body = { before_due: kind };
    }
    try {
      await api.post(`/api/tasks/${this.task.id}/reminders`, body);
      setMessage(error, "");
      await this.loadReminders();
    } catch (failure) {
      setMessage(error, failure.message);
    }
  }

  async removeReminder(reminder) {
    try {
      await api.delete(`/api/reminders/${reminder.id}`);
      await this.loadReminders();
      $("#reminder-kind").focus();
    } catch (failure) {
      setMessage($("#reminder-error"), failure.message);
    }
  }
}
