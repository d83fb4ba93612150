/** Dates for people: "in 3 days" / "2 hr. ago" next to the date and time in the user's zone. */

import {
  daysBetween, dueDay, fromWallClock, isAllDay, isOverdue as overdueInZone, offsetAt, today, wallClock, zone,
} from "./zone.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
const formats = new Map();

/** A formatter for the user's current zone (made once per zone and style). */
function formatter(style, timeZone = zone()) {
  const key = `${style}|${timeZone}`;
  if (!formats.has(key)) {
    const options = style === "date" ? { dateStyle: "medium" } : { dateStyle: "medium", timeStyle: "short" };
    formats.set(key, new Intl.DateTimeFormat(undefined, { ...options, timeZone }));
  }
  return formats.get(key);
}

/** "in 3 days", "2 hr. ago", "now". */
export function fromNow(iso, now = Date.now()) {
  const diff = new Date(iso).getTime() - now;
  const size = Math.abs(diff);
  if (size < MINUTE) return "now";
  if (size < HOUR) return relative.format(Math.round(diff / MINUTE), "minute");
  if (size < DAY) return relative.format(Math.round(diff / HOUR), "hour");
  if (size < 30 * DAY) return relative.format(Math.round(diff / DAY), "day");
  if (size < 365 * DAY) return relative.format(Math.round(diff / (30 * DAY)), "month");
  return relative.format(Math.round(diff / (365 * DAY)), "year");
}

export function localDateTime(iso) {
  return formatter("datetime").format(new Date(iso));
}

export function localDate(iso) {
  return formatter("date").format(new Date(iso));
}

/** A "YYYY-MM-DD" day as people read it ("Dec 2, 2026"), the same day in every zone. */
export function calendarDay(day) {
  const [y, m, d] = day.split("-").map(Number);
  return formatter("date", "UTC").format(new Date(Date.UTC(y, m - 1, d)));
}

/** "today", "tomorrow", "in 3 days", "yesterday": a day relative to today in the user's zone. */
export function fromToday(day, now = Date.now()) {
  return relativeDays.format(daysBetween(today(now), day), "day");
}

const relativeDays = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** "open and past due", as the server's `overdue` means it; an all-day task once its day is over. */
export function isOverdue(task, now = Date.now()) {
  return overdueInZone(task, now);
}

export function isDueSoon(task, now = Date.now()) {
  if (task.completed || !task.due_date) return false;
  if (isAllDay(task)) return dueDay(task) === today(now);
  const left = new Date(task.due_date).getTime() - now;
  return left >= 0 && left < DAY;
}

const pad = (n) => String(n).padStart(2, "0");

/** An ISO instant as the value of an <input type="datetime-local">: the wall time in the user's zone. */
export function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : wallClock(d.getTime());
}

/** A datetime-local value (wall time in the user's zone) as an ISO instant, or null when empty. */
export function fromLocalInput(value) {
  const instant = fromWallClock(value);
  return instant === null ? null : new Date(instant).toISOString();
}

/** A datetime-local value with the user's zone's offset kept (e.g. 2026-12-01T09:00:00+01:00). */
export function withLocalOffset(value) {
  const instant = fromWallClock(value);
  if (instant === null) return null;
  const offset = Math.round(offsetAt(instant) / 60_000);
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return `${wallClock(instant)}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** "YYYY-MM-DD" plus `days`, as "YYYY-MM-DD" (calendar arithmetic, no time zone involved). */
export function addDays(day, days) {
  const [y, m, d] = day.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d + days));
  return date.toISOString().slice(0, 10);
}

/** "PT1H" → "1 hour", "P1D" → "1 day", "PT15M" → "15 minutes"; anything else as given. */
export function describeDuration(duration) {
  const match = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(duration || "");
  if (!match) return duration;
  const units = ["week", "day", "hour", "minute", "second"];
  const parts = match.slice(1).map((n, i) => (n && Number(n) ? `${Number(n)} ${units[i]}${Number(n) === 1 ? "" : "s"}` : null));
  return parts.filter(Boolean).join(" ") || duration;
}
