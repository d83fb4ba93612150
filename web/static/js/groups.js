/** The default view's groups: Overdue, Today, Upcoming, No date (and Past for done tasks), in the user's zone. */

import { dueDay, isAllDay, isOverdue, today } from "./zone.js";

export const GROUPS = [
  { key: "overdue", label: "Overdue" },
  { key: "today", label: "Today" },
  { key: "upcoming", label: "Upcoming" },
  { key: "none", label: "No date" },
  { key: "past", label: "Done earlier" },
];

export function groupOf(task, now = Date.now()) {
  if (!task.due_date) return "none";
  if (isOverdue(task, now)) return "overdue";
  const day = dueDay(task);
  const current = today(now);
  if (day === current) return "today";
  return day > current ? "upcoming" : "past";
}

/** Earliest first; an all-day task before the timed ones of its day; ties keep the order they came in. */
function byDue(a, b) {
  const dayA = dueDay(a);
  const dayB = dueDay(b);
  if (dayA !== dayB) return dayA < dayB ? -1 : 1;
  if (isAllDay(a) !== isAllDay(b)) return isAllDay(a) ? -1 : 1;
  return new Date(a.due_date).getTime() - new Date(b.due_date).getTime();
}

const newestFirst = (a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0);

/** [{key, label, tasks}] for the groups that have tasks, in GROUPS order. */
export function groupTasks(tasks, now = Date.now()) {
  const buckets = new Map(GROUPS.map((g) => [g.key, []]));
  for (const task of tasks) buckets.get(groupOf(task, now)).push(task);
  buckets.get("none").sort(newestFirst);
  for (const key of ["overdue", "today", "upcoming"]) buckets.get(key).sort(byDue);
  buckets.get("past").sort((a, b) => byDue(b, a));
  return GROUPS.filter((g) => buckets.get(g.key).length).map((g) => ({ ...g, tasks: buckets.get(g.key) }));
}
