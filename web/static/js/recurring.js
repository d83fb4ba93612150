/** Recurring tasks: the templates, a rule editor (every N days/weeks/months/years, or cron), upcoming
 * occurrences, pause/resume and delete. Shown only when the server offers /api/recurring-tasks. */

import { api } from "./api.js";
import { $, $$, h, setMessage } from "./dom.js";
import { confirmDialog, openDialog } from "./dialogs.js";
import { addDays, fromNow, localDate, localDateTime, withLocalOffset } from "./format.js";
import { today, zone, zoneNames } from "./zone.js";
import { errorToast, toast } from "./toasts.js";

const UNITS = { DAILY: "day", WEEKLY: "week", MONTHLY: "month", YEARLY: "year" };
const DAYS = { MO: "Mon", TU: "Tue", WE: "Wed", TH: "Thu", FR: "Fri", SA: "Sat", SU: "Sun" };
const ORDINALS = { 1: "first", 2: "second", 3: "third", 4: "fourth", "-1": "last", "-2": "second to last",
  "-3": "third to last", "-4": "fourth to last" };
const PRIORITY_LABEL = { HIGH: "High", MEDIUM: "Medium", LOW: "Low" };

/** "Every 2 weeks on Mon, Thu", "Monthly on the last day", "Cron 0 9 * * 1-5". */
export function describeRule(t) {
  if (t.cron) return `Cron ${t.cron}`;
  if (t.rrule) return `RRULE ${t.rrule}`;
  const unit = UNITS[t.frequency] || String(t.frequency).toLowerCase();
  let text = t.interval > 1 ? `Every ${t.interval} ${unit}s` : `Every ${unit}`;
  if (t.by_weekday?.length) text += ` on ${t.by_weekday.map((d) => DAYS[d] || d).join(", ")}`;
  if (t.by_month_day === -1) text += " on the last day";
  else if (t.by_month_day) text += ` on day ${t.by_month_day}`;
  if (t.by_nth_weekday) {
    const match = /^([+-]?\d)([A-Z]{2})$/.exec(String(t.by_nth_weekday));
    text += match ? ` on the ${ORDINALS[Number(match[1])] || match[1]} ${DAYS[match[2]] || match[2]}`
      : ` on ${t.by_nth_weekday}`;
  }
  return text;
}

function ends(t) {
  if (t.count) return ` · ${t.count} times`;
  if (t.end_date) return ` · until ${localDate(t.end_date)}`;
  return "";
}

export class RecurringPanel {
  constructor({ features }) {
    this.features = features;
    this.templates = [];
    this.list = $("#template-list");
    this.dialog = $("#template-dialog");
    this.form = $("#template-form");
    this.wired = false;
  }

  wire() {
    if (this.wired) return;
    this.wired = true;
    $("#new-template").addEventListener("click", () => this.openEditor());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
    this.form.addEventListener("change", () => this.syncRuleFields());
    const days = $("#rule-month-day");
    days.replaceChildren(...Array.from({ length: 31 }, (_, i) => h("option", { value: String(i + 1) }, String(i + 1))),
      h("option", { value: "-1" }, "last"));
    if (!$("#time-zones").children.length) {
      $("#time-zones").replaceChildren(...zoneNames().map((name) => h("option", { value: name })));
    }
  }

  async load() {
    this.wire();
    const error = $("#recurring-error");
    try {
      const page = await api.get("/api/recurring-tasks", { params: { limit: 100 } });
      this.templates = page.recurring_tasks;
      setMessage(error, "");
      this.render();
    } catch (failure) {
      setMessage(error, `Could not load recurring tasks: ${failure.message}`);
    }
  }

  clear() {
    this.templates = [];
    this.list.replaceChildren();
  }

  render() {
    this.list.replaceChildren(...this.templates.map((t) => this.row(t)));
    $("#templates-empty").hidden = this.templates.length > 0;
  }

  row(t) {
    const item = h("li", { class: "task", dataset: { id: t.id } },
      h("span", { class: "badge status-" + t.status }, t.status),
      h("div", { class: "task-main" },
        h("div", { class: "task-title" }, t.title),
        h("div", { class: "task-meta" },
          h("span", { class: `badge priority-${t.priority}` }, PRIORITY_LABEL[t.priority] || t.priority),
          h("span", {}, describeRule(t) + ends(t)),
          t.next_occurrence && t.status === "active"
            ? h("span", { class: "due" }, `Next ${fromNow(t.next_occurrence)} · `,
              h("time", { datetime: t.next_occurrence }, localDateTime(t.next_occurrence)))
            : null,
          (t.tags || []).map((tag) => h("span", { class: "tag" }, `#${tag}`)))),
      h("div", { class: "task-actions" },
        this.features.occurrences ? h("button", {
          type: "button", class: "button subtle small", "aria-expanded": "false",
          "aria-label": `Upcoming occurrences of “${t.title}”`,
          onclick: (event) => this.toggleUpcoming(t, item, event.currentTarget),
        }, "Upcoming") : null,
        this.features.pause && t.status !== "ended" ? h("button", {
          type: "button", class: "button subtle small", dataset: { role: "pause" },
          "aria-label": `${t.status === "paused" ? "Resume" : "Pause"} “${t.title}”`,
          onclick: () => this.setPaused(t, t.status !== "paused"),
        }, t.status === "paused" ? "Resume" : "Pause") : null,
        this.features.templateDelete ? h("button", {
          type: "button", class: "button subtle small", "aria-label": `Delete “${t.title}”`,
          onclick: () => this.remove(t),
        }, "Delete") : null));
    return item;
  }

  async toggleUpcoming(t, item, button) {
    const shown = item.querySelector(".occurrences");
    if (shown) {
      shown.remove();
      button.setAttribute("aria-expanded", "false");
      return;
    }
    button.setAttribute("aria-expanded", "true");
    const list = h("ul", { class: "occurrences", "aria-label": `Upcoming occurrences of ${t.title}` },
      h("li", {}, "Loading…"));
    item.append(list);
    try {
      const body = await api.get(`/api/recurring-tasks/${t.id}/occurrences`, { params: { upcoming: 5, past: 0 } });
      list.replaceChildren(...body.upcoming.map((due) => h("li", {},
        h("time", { datetime: due }, localDateTime(due)), ` (${fromNow(due)})`)));
      if (!body.upcoming.length) {
        list.append(h("li", {}, t.status === "active" ? "No more occurrences." : `None while ${t.status}.`));
      }
    } catch (failure) {
      list.replaceChildren(h("li", {}, `Could not load: ${failure.message}`));
    }
  }

  async setPaused(t, pause) {
    try {
      const updated = await api.post(`/api/recurring-tasks/${t.id}/${pause ? "pause" : "resume"}`, undefined,
        { version: t.version });
      this.replace(updated);
      toast(`${pause ? "Paused" : "Resumed"} “${t.title}”`);
      this.list.querySelector(`[data-id="${t.id}"] [data-role="pause"]`)?.focus();
    } catch (failure) {
      errorToast(failure, pause ? "Could not pause" : "Could not resume");
      if (failure.status === 412) this.load();
    }
  }

  async remove(t) {
    const sure = await confirmDialog({
      title: "Delete recurring task?",
      text: `“${t.title}” stops repeating. Tasks it already created stay.`,
    });
    if (!sure) return;
    try {
      await api.delete(`/api/recurring-tasks/${t.id}`, { version: t.version });
      this.templates = this.templates.filter((x) => x.id !== t.id);
      this.render();
      toast(`Deleted “${t.title}”`);
      $("#new-template").focus();
    } catch (failure) {
      errorToast(failure, "Could not delete");
      if (failure.status === 412) this.load();
    }
  }

  replace(template) {
    const index = this.templates.findIndex((x) => x.id === template.id);
    if (index >= 0) this.templates[index] = template;
    else this.templates.unshift(template);
    this.render();
  }

  // The editor ------------------------------------------------------------------------------

  openEditor() {
    this.form.reset();
    // Tomorrow at nine, in the user's zone.
    const day = addDays(today(), 1);
    this.form.elements.start_date.value = `${day}T09:00`;
    this.form.elements.timezone.value = zone();
    const [y, m, d] = day.split("-").map(Number);
    const weekday = Object.keys(DAYS)[(new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7];
    for (const box of $$('input[name="by_weekday"]', this.form)) box.checked = box.value === weekday;
    $("#rule-month-day").value = String(d);
    setMessage($("#template-form-error"), "");
    this.syncRuleFields();
    openDialog(this.dialog, { focus: "#template-title" });
  }

  /** Show the fields that apply to the chosen kind, frequency and end. */
  syncRuleFields() {
    const f = this.form.elements;
    const kind = f.kind.value;
    const frequency = f.frequency.value;
    $("#rule-frequency").hidden = kind !== "frequency";
    $("#rule-cron").hidden = kind !== "cron";
    $("#rule-weekdays").hidden = frequency !== "WEEKLY";
    $("#rule-monthly").hidden = frequency !== "MONTHLY";
    const endsOn = f.ends.value;
    for (const id of ["#rule-end-date", "#rule-end-date-label"]) $(id).hidden = endsOn !== "on";
    for (const id of ["#rule-count", "#rule-count-label"]) $(id).hidden = endsOn !== "after";
  }

  body() {
    const f = this.form.elements;
    const tags = [...new Set(f.tags.value.split(",").map((x) => x.trim().toLowerCase()).filter(Boolean))];
    const body = {
      title: f.title.value.trim(),
      description: f.description.value.trim() || null,
      priority: f.priority.value,
      tags,
      start_date: withLocalOffset(f.start_date.value),
      timezone: f.timezone.value.trim() || zone(),
      repeat_from: f.repeat_from.value,
    };
    if (f.kind.value === "cron") {
      body.cron = f.cron.value.trim();
    } else {
      body.frequency = f.frequency.value;
      body.interval = Number(f.interval.value) || 1;
      if (body.frequency === "WEEKLY") {
        const days = $$('input[name="by_weekday"]:checked', this.form).map((box) => box.value);
        if (days.length) body.by_weekday = days;
      }
      if (body.frequency === "MONTHLY") {
        const monthly = f.monthly.value;
        if (monthly === "day") body.by_month_day = Number(f.by_month_day.value);
        if (monthly === "nth") body.by_nth_weekday = `${f.nth.value}${f.nth_day.value}`;
      }
    }
    if (f.ends.value === "on" && f.end_date.value) body.end_date = f.end_date.value;
    if (f.ends.value === "after") body.count = Number(f.count.value);
    return body;
  }

  async create() {
    const error = $("#template-form-error");
    const f = this.form.elements;
    if (!f.title.value.trim()) {
      setMessage(error, "A title is needed.");
      f.title.focus();
      return;
    }
    if (!f.start_date.value) {
      setMessage(error, "Pick when it starts.");
      f.start_date.focus();
      return;
    }
    const submit = this.form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const created = await api.post("/api/recurring-tasks", this.body());
      this.dialog.close("saved");
      this.replace(created);
      toast(`Created “${created.title}”: ${describeRule(created).toLowerCase()}`);
    } catch (failure) {
      const field = failure.details?.field;
      setMessage(error, failure.message + (field && !failure.message.startsWith(field) ? ` (${field})` : ""));
    } finally {
      submit.disabled = false;
    }
  }
}
