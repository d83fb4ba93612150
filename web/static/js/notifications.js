/** Notifications: a toast when one arrives live, the bell's unread count, and the list to read,
 * snooze or open them. Shown only when the server offers /api/notifications. */

import { api } from "./api.js";
import { $, h } from "./dom.js";
import { openDialog } from "./dialogs.js";
import { fromNow, localDateTime } from "./format.js";
import { errorToast, toast } from "./toasts.js";

const LIMIT = 50;

/** The one task a notification is about, if it is about exactly one (a batch names several). */
function taskOf(notification) {
  const data = notification.data || {};
  const ids = data.task_id ? [data.task_id] : Array.isArray(data.task_ids) ? data.task_ids : [];
  return ids.length === 1 ? ids[0] : null;
}

export class Notifications {
  /** @param {object} options features, openTask(id) */
  constructor(options) {
    this.options = options;
    this.items = [];
    this.button = $("#notifications-button");
    this.dialog = $("#notifications-dialog");
    this.list = $("#notification-list");
    this.button.addEventListener("click", () => this.openList());
    $("#read-all").addEventListener("click", () => this.readAll());
  }

  get enabled() {
    return Boolean(this.options.features.notifications);
  }

  async load() {
    this.button.hidden = !this.enabled;
    $("#read-all").hidden = !this.options.features.readAll;
    if (!this.enabled) return;
    try {
      const { notifications } = await api.get("/api/notifications", { params: { limit: LIMIT } });
      this.items = notifications;
      this.render();
    } catch (failure) {
      if (failure.status !== 401) errorToast(failure, "Could not load notifications");
    }
  }

  clear() {
    this.items = [];
    this.button.hidden = true;
    this.render();
  }

  /** A `notification.created` message from /ws: a new notification, or a snoozed one back when its snooze ended. */
  arrived(notification) {
    if (!notification?.id) return;
    const held = this.items.findIndex((n) => n.id === notification.id);
    // One already listed comes again only when its snooze ended; otherwise it is a repeat.
    if (held >= 0 && !this.items[held].snoozed_until) return;
    if (held >= 0) this.items.splice(held, 1);
    this.items.unshift(notification);
    this.items.length = Math.min(this.items.length, LIMIT);
    this.render();
    const taskId = taskOf(notification);
    toast({
      kind: "notification",
      title: notification.title || "Reminder",
      body: notification.body || "",
      action: taskId ? { label: "Open task", run: () => this.options.openTask(taskId) } : null,
    });
  }

  render() {
    const unread = this.items.filter((n) => !n.read).length;
    const counter = $("#unread-count");
    counter.textContent = unread >= LIMIT ? `${LIMIT}+` : String(unread);
    counter.hidden = unread === 0;
    this.button.setAttribute("aria-label", unread ? `Notifications, ${unread} unread` : "Notifications");
    this.list.replaceChildren(...this.items.map((n) => this.row(n)));
    $("#notifications-empty").hidden = this.items.length > 0;
  }

  row(n) {
    const features = this.options.features;
    const taskId = taskOf(n);
    const snoozed = n.snoozed_until && new Date(n.snoozed_until).getTime() > Date.now();
    return h("li", { class: n.read ? "read" : "unread", dataset: { id: n.id } },
      h("div", { class: "n-title" }, n.title || "Reminder"),
      n.body ? h("p", { class: "n-body" }, n.body) : null,
      h("p", { class: "n-body" },
        h("time", { datetime: n.created_at, title: localDateTime(n.created_at) }, fromNow(n.created_at)),
        snoozed ? ` · snoozed until ${localDateTime(n.snoozed_until)}` : ""),
      h("div", { class: "n-actions" },
        taskId ? h("button", {
          type: "button", class: "button subtle small",
          onclick: () => { this.dialog.close(); this.options.openTask(taskId); },
        }, "Open task") : null,
        !n.read && features.notificationRead ? h("button", {
          type: "button", class: "button subtle small", onclick: () => this.markRead(n),
        }, "Mark read") : null,
        features.snooze ? h("button", {
          type: "button", class: "button subtle small", onclick: () => this.snooze(n, 60),
        }, "Snooze 1 h") : null));
  }

  openList() {
    this.render();
    openDialog(this.dialog, { focus: "#notifications-dialog .close" });
    this.load();
  }

  replace(updated) {
    const index = this.items.findIndex((n) => n.id === updated.id);
    if (index >= 0) this.items[index] = updated;
    this.render();
  }

  async markRead(n) {
    try {
      this.replace(await api.post(`/api/notifications/${n.id}/read`));
    } catch (failure) {
      errorToast(failure, "Could not mark it read");
    }
  }

  async snooze(n, minutes) {
    try {
      this.replace(await api.post(`/api/notifications/${n.id}/snooze`, { minutes }));
      toast(`Snoozed for ${minutes} minutes`);
    } catch (failure) {
      errorToast(failure, "Could not snooze");
    }
  }

  async readAll() {
    try {
      await api.post("/api/notifications/read-all");
      this.items = this.items.map((n) => ({ ...n, read: true }));
      this.render();
    } catch (failure) {
      errorToast(failure, "Could not mark all read");
    }
  }
}
