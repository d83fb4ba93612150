/** The settings page: time zone, reminder e-mail, webhooks with their delivery log, the calendar feed URL.
 * Each section shows only when the server offers its routes. */

import { ApiError, api } from "./api.js";
import { $, h, setMessage } from "./dom.js";
import { confirmDialog } from "./dialogs.js";
import { fromNow, localDateTime } from "./format.js";
import { errorToast, toast } from "./toasts.js";
import { browserZone, isZone, setZone, zone, zoneNames } from "./zone.js";

const splitList = (text) => text.split(",").map((t) => t.trim()).filter(Boolean);

/** Copy `text`; where the Clipboard API is refused, copy the selection of `input` the old way. */
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input?.select();
    return document.execCommand?.("copy") === true;
  }
}

export class Settings {
  /** @param {object} options features */
  constructor(options) {
    this.features = options.features;
    this.webhooks = [];
    this.wired = false;
  }

  /** Whether there is anything to show at all (otherwise the Settings tab stays hidden). */
  get enabled() {
    const f = this.features;
    return Boolean(f.settings || f.notificationSettings || f.webhooks || f.calendarToken);
  }

  wire() {
    if (this.wired) return;
    this.wired = true;
    if (!$("#time-zones").children.length) {
      $("#time-zones").replaceChildren(...zoneNames().map((name) => h("option", { value: name })));
    }
    $("#zone-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveZone($("#zone-input").value.trim());
    });
    $("#zone-browser").addEventListener("click", () => {
      $("#zone-input").value = browserZone();
      this.saveZone(browserZone());
    });
    $("#email-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveEmail();
    });
    $("#email-resend").addEventListener("click", () => this.resend());
    $("#webhook-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.addWebhook();
    });
    $("#calendar-create").addEventListener("click", () => this.rotateFeed(false));
    $("#calendar-rotate").addEventListener("click", () => this.rotateFeed(true));
    $("#calendar-revoke").addEventListener("click", () => this.revokeFeed());
    $("#calendar-copy").addEventListener("click", () => this.copy($("#calendar-url")));
    $("#webhook-secret-copy").addEventListener("click", () => this.copy($("#webhook-secret-value")));
  }

  /** Called once signed in, before the first list: the zone decides what "today" is. */
  async loadZone() {
    if (!this.features.settings) {
      setZone(browserZone());
      return;
    }
    try {
      const settings = await api.get("/api/settings");
      setZone(settings?.time_zone);
    } catch (error) {
      // An older server (404) or a hiccup: this browser's zone serves until the next sign-in.
      setZone(browserZone());
      if (error.status !== 404 && error.status !== 401) errorToast(error, "Could not read your time zone");
    }
  }

  /** Fill every section; called when the page is opened. */
  async load() {
    this.wire();
    const f = this.features;
    $("#settings-zone").hidden = false;
    $("#settings-email").hidden = !f.notificationSettings;
    $("#settings-webhooks").hidden = !f.webhooks;
    $("#settings-calendar").hidden = !f.calendarToken;
    this.showZone();
    await Promise.all([
      f.notificationSettings ? this.loadEmail() : null,
      f.webhooks ? this.loadWebhooks() : null,
    ]);
  }

  // Time zone ----------------------------------------------------------------------------------

  showZone() {
    const stored = Boolean(this.features.settings);
    $("#zone-input").value = zone();
    $("#zone-form").hidden = !stored;
    setMessage($("#zone-note"), stored ? "" : `This server keeps no time zone for you yet: dates use this `
      + `browser's zone, ${browserZone()}.`);
    $("#zone-current").textContent = zone();
  }

  async saveZone(name) {
    const error = $("#zone-error");
    if (!isZone(name)) {
      setMessage(error, `“${name}” is not a time zone this browser knows; pick one from the list, e.g. Europe/Berlin.`);
      return;
    }
    try {
      const saved = await api.put("/api/settings", { time_zone: name });
      setMessage(error, "");
      setZone(saved?.time_zone || name);
      this.showZone();
      toast(`Time zone: ${zone()}`);
    } catch (failure) {
      setMessage(error, failure instanceof ApiError && (failure.status === 404 || failure.status === 405)
        ? "This server cannot store a time zone yet." : failure.message);
    }
  }

  // E-mail -------------------------------------------------------------------------------------

  async loadEmail() {
    try {
      this.showEmail(await api.get("/api/notification-settings"));
    } catch (error) {
      setMessage($("#email-error"), `Could not load your e-mail settings: ${error.message}`);
    }
  }

  showEmail(settings) {
    $("#email-input").value = settings.email || "";
    const status = $("#email-status");
    status.dataset.state = !settings.email ? "none" : settings.email_confirmed ? "confirmed" : "pending";
    status.textContent = !settings.email ? "No address: reminders show up here only."
      : settings.email_confirmed ? `Reminders go to ${settings.email}.`
        : settings.confirmation_sent_at
          ? `Waiting for you to follow the link sent to ${settings.email} (${fromNow(settings.confirmation_sent_at)}).`
          : `${settings.email} is not confirmed yet: it gets no reminders until it is.`;
    $("#email-resend").hidden = !(settings.email && !settings.email_confirmed && this.features.resendConfirmation);
  }

  async saveEmail() {
    const value = $("#email-input").value.trim();
    try {
      this.showEmail(await api.put("/api/notification-settings", { email: value || null }));
      setMessage($("#email-error"), "");
      toast(value ? `Saved; check ${value} for the confirmation link` : "Reminder e-mails are off");
    } catch (error) {
      setMessage($("#email-error"), error.message);
    }
  }

  async resend() {
    try {
      this.showEmail(await api.post("/api/notification-settings/resend-confirmation"));
      setMessage($("#email-error"), "");
      toast("A new confirmation link is on its way");
    } catch (error) {
      setMessage($("#email-error"), error.message);
    }
  }

  // Webhooks -----------------------------------------------------------------------------------

  async loadWebhooks() {
    try {
      const { webhooks } = await api.get("/api/webhooks");
      this.webhooks = webhooks;
      this.renderWebhooks();
    } catch (error) {
      setMessage($("#webhook-error"), `Could not load your webhooks: ${error.message}`);
    }
  }

  renderWebhooks() {
    $("#webhook-list").replaceChildren(...this.webhooks.map((hook) => this.webhookRow(hook)));
    $("#webhooks-empty").hidden = this.webhooks.length > 0;
  }

  webhookRow(hook) {
    const f = this.features;
    const state = hook.active ? "active" : "disabled";
    return h("li", { class: "webhook", dataset: { id: hook.id } },
      h("div", { class: "webhook-main" },
        h("code", { class: "webhook-url" }, hook.url),
        h("div", { class: "task-meta" },
          h("span", { class: `badge status-${hook.active ? "active" : "paused"}` }, state),
          hook.events.map((e) => h("span", { class: "tag" }, e)),
          hook.consecutive_failures ? h("span", { class: "muted" }, `${hook.consecutive_failures} failed in a row`) : null),
        !hook.active && hook.disabled_reason
          ? h("p", { class: "field-error" }, `Disabled ${hook.disabled_at ? fromNow(hook.disabled_at) : ""}: ${hook.disabled_reason}`)
          : null,
        h("div", { class: "deliveries", hidden: true })),
      h("div", { class: "task-actions" },
        f.webhookDeliveries ? h("button", {
          type: "button", class: "button subtle small", "aria-expanded": "false",
          "aria-label": `Deliveries to ${hook.url}`, onclick: (event) => this.toggleDeliveries(hook, event.currentTarget),
        }, "Deliveries") : null,
        !hook.active && f.webhookEnable ? h("button", {
          type: "button", class: "button subtle small", "aria-label": `Re-enable ${hook.url}`,
          onclick: () => this.enable(hook),
        }, "Re-enable") : null,
        f.webhookDelete ? h("button", {
          type: "button", class: "button subtle small", "aria-label": `Delete webhook ${hook.url}`,
          onclick: () => this.removeWebhook(hook),
        }, "Delete") : null));
  }

  async addWebhook() {
    const url = $("#webhook-url").value.trim();
    const events = splitList($("#webhook-events").value);
    const error = $("#webhook-error");
    if (!url) {
      setMessage(error, "Enter the URL to POST events to.");
      $("#webhook-url").focus();
      return;
    }
    try {
      const hook = await api.post("/api/webhooks", { url, events: events.length ? events : ["task.*"] });
      setMessage(error, "");
      $("#webhook-url").value = "";
      // The secret is shown once: the receiver needs it to check signatures.
      $("#webhook-secret-value").value = hook.secret || "";
      $("#webhook-secret").hidden = !hook.secret;
      const { secret, ...listed } = hook;
      this.webhooks.push(listed);
      this.renderWebhooks();
      toast("Webhook added");
    } catch (failure) {
      setMessage(error, failure.message);
    }
  }

  async removeWebhook(hook) {
    const sure = await confirmDialog({ title: "Delete webhook?", text: `${hook.url} will get no more events.` });
    if (!sure) return;
    try {
      await api.delete(`/api/webhooks/${hook.id}`);
    } catch (error) {
      if (error.status !== 404) {
        errorToast(error, "Could not delete the webhook");
        return;
      }
    }
    this.webhooks = this.webhooks.filter((w) => w.id !== hook.id);
    this.renderWebhooks();
    toast("Webhook deleted");
  }

  async enable(hook) {
    try {
      const saved = await api.post(`/api/webhooks/${hook.id}/enable`);
      this.webhooks = this.webhooks.map((w) => (w.id === saved.id ? saved : w));
      this.renderWebhooks();
      toast("Webhook enabled again");
    } catch (error) {
      errorToast(error, "Could not re-enable the webhook");
    }
  }

  async toggleDeliveries(hook, button) {
    const box = button.closest("li").querySelector(".deliveries");
    const open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", String(!open));
    box.hidden = open;
    if (open) return;
    box.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    try {
      const { deliveries } = await api.get(`/api/webhooks/${hook.id}/deliveries`, { params: { limit: 20 } });
      box.replaceChildren(deliveries.length
        ? h("table", { class: "delivery-log" },
          h("thead", {}, h("tr", {}, ["Event", "Status", "Attempts", "Answer", "When"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, deliveries.map((d) => h("tr", { dataset: { status: d.status } },
            h("td", {}, d.event_type),
            h("td", {}, h("span", { class: `delivery-status ${d.status}` }, d.status)),
            h("td", {}, String(d.attempts)),
            h("td", {}, d.last_status_code ? `HTTP ${d.last_status_code}` : d.last_error || "—"),
            h("td", {}, h("time", { datetime: d.created_at, title: localDateTime(d.created_at) }, fromNow(d.created_at)))))))
        : h("p", { class: "muted" }, "Nothing sent yet."));
    } catch (error) {
      box.replaceChildren(h("p", { class: "field-error" }, `Could not load deliveries: ${error.message}`));
    }
  }

  // Calendar feed ------------------------------------------------------------------------------

  showFeed(answer) {
    $("#calendar-url").value = answer?.url || "";
    $("#calendar-feed").hidden = !answer?.url;
    $("#calendar-create").hidden = Boolean(answer?.url);
  }

  async rotateFeed(replacing) {
    if (replacing) {
      const sure = await confirmDialog({
        title: "Make a new feed URL?", confirm: "Rotate",
        text: "The current URL stops working; calendars subscribed to it need the new one.",
      });
      if (!sure) return;
    }
    try {
      this.showFeed(await api.post("/api/calendar/token"));
      setMessage($("#calendar-error"), "");
      toast(replacing ? "New feed URL; the old one no longer works" : "Feed URL created");
    } catch (error) {
      setMessage($("#calendar-error"), error.message);
    }
  }

  async revokeFeed() {
    const sure = await confirmDialog({ title: "Turn the feed off?", confirm: "Turn off",
      text: "The feed URL stops working; calendars subscribed to it stop updating." });
    if (!sure) return;
    try {
      await api.delete("/api/calendar/token");
    } catch (error) {
      if (error.status !== 404) {
        setMessage($("#calendar-error"), error.message);
        return;
      }
    }
    this.showFeed(null);
    toast("Calendar feed turned off");
  }

  async copy(input) {
    if (await copyText(input.value, input)) toast("Copied to the clipboard");
    else toast({ title: "Could not copy; select the text and copy it yourself", kind: "error" });
  }
}
