/** The user's time zone (from GET /api/settings, else this browser's) and calendar days in it. */

const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DAY = 86_400_000;

let current = BROWSER_ZONE;
let dayFormat = null;
let clockFormat = null;
const listeners = new Set();

export function browserZone() {
  return BROWSER_ZONE;
}

export function zone() {
  return current;
}

/** Whether `name` is a zone this browser knows (the server checks again; this only spares a round trip). */
export function isZone(name) {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** Use `name` from now on (an unknown name falls back to the browser's); listeners re-render. */
export function setZone(name) {
  const next = name && isZone(name) ? name : BROWSER_ZONE;
  if (next === current) return;
  current = next;
  dayFormat = null;
  clockFormat = null;
  for (const listener of listeners) listener(current);
}

export function onZoneChange(listener) {
  listeners.add(listener);
}

/** "YYYY-MM-DD" of an instant, as a wall calendar in the user's zone shows it. */
export function dayOf(instant) {
  dayFormat ||= new Intl.DateTimeFormat("en-CA", { timeZone: current, year: "numeric", month: "2-digit", day: "2-digit" });
  const parts = Object.fromEntries(dayFormat.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** Every zone name this browser knows, for a <datalist>. */
export function zoneNames() {
  return typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [BROWSER_ZONE];
}

function clockParts(instant) {
  clockFormat ||= new Intl.DateTimeFormat("en-US", {
    timeZone: current, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
    hour: "numeric", minute: "numeric", second: "numeric",
  });
  return Object.fromEntries(clockFormat.formatToParts(new Date(instant)).map((x) => [x.type, Number(x.value)]));
}

/** How far the user's zone is ahead of UTC at `instant`, in milliseconds. */
export function offsetAt(instant) {
  const p = clockParts(instant);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - Math.floor(instant / 1000) * 1000;
}

/** The instants a wall-clock time (`wall`, as if it were UTC) may name: one per offset the zone has within a
 * day of it, so both sides of a DST change are tried. */
function candidates(wall) {
  return [...new Set([-DAY, 0, DAY].map((shift) => wall - offsetAt(wall + shift)))];
}

/** The instant (ms) a "YYYY-MM-DD" day (plus `days`) starts in the user's zone: the earliest instant on that
 * day, so a midnight DST skips starts the day at 01:00. */
export function startOfDay(day, days = 0) {
  const [y, m, d] = day.split("-").map(Number);
  const wall = Date.UTC(y, m - 1, d + days);
  const target = new Date(wall).toISOString().slice(0, 10);
  const found = candidates(wall);
  const onTheDay = found.filter((instant) => dayOf(instant) === target);
  return onTheDay.length ? Math.min(...onTheDay) : Math.max(...found);
}

const pad = (n) => String(n).padStart(2, "0");

/** "YYYY-MM-DDTHH:MM": the user's zone's wall clock at `instant` (what an <input type="datetime-local"> shows). */
export function wallClock(instant) {
  const p = clockParts(instant);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`;
}

/** The instant (ms) a "YYYY-MM-DDTHH:MM" wall-clock time in the user's zone names, or null. Of two (DST
 * overlap) the earlier; a time DST skips moves forward by the gap, as clocks do. */
export function fromWallClock(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
  if (!m) return null;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
  const found = candidates(wall);
  const exact = found.filter((instant) => wallClock(instant) === value.slice(0, 16));
  return exact.length ? Math.min(...exact) : Math.max(...found);
}

export function today(now = Date.now()) {
  return dayOf(now);
}

/** An all-day task: flagged so, or its due_date is a bare "YYYY-MM-DD" (a day, not an instant). */
export function isAllDay(task) {
  return Boolean(task?.due_date) && (task.all_day === true || DATE_ONLY.test(task.due_date));
}

/** The calendar day a task is due on, in the user's zone; null without a due date. */
export function dueDay(task) {
  if (!task?.due_date) return null;
  if (DATE_ONLY.test(task.due_date)) return task.due_date;
  return dayOf(task.due_date);
}

/** Whole days from `from` to `to` (both "YYYY-MM-DD"); calendar arithmetic, DST cannot skew it. */
export function daysBetween(from, to) {
  const utc = (day) => {
    const [y, m, d] = day.split("-").map(Number);
    return Date.UTC(y, m - 1, d);
  };
  return Math.round((utc(to) - utc(from)) / 86_400_000);
}

/** Open and past due: an all-day task once its day is over, a timed one once its instant passed. */
export function isOverdue(task, now = Date.now()) {
  if (task.completed || !task.due_date) return false;
  if (isAllDay(task)) return dueDay(task) < today(now);
  return new Date(task.due_date).getTime() < now;
}
