/** The filter bar: its fields as GET /api/tasks parameters, and the same filters tested on one task. */

import { $, $$ } from "./dom.js";
import { isOverdue } from "./format.js";
import { startOfDay, zone } from "./zone.js";

export const PAGE_SIZE = 50;

const splitTags = (text) => text.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean);

/**
 * What the form asks for:
 *   params   the query string of GET /api/tasks (without paging)
 *   test     task → true/false when the filters can be checked here, null when only the server can
 *            tell (full-text search, filter expressions)
 *   ordered  whether a created task can be placed here without asking the server (newest-first, or
 *            the due-date groups, which order themselves)
 *   grouped  the default view: Overdue / Today / Upcoming / No date, read from the server by due date
 *   saved    what the user chose (no defaults, no empties): the parameters a saved view keeps
 */
export function readFilters(form) {
  const status = $("#status", form).value;
  const priorities = $$('input[name="priority"]:checked', form).map((box) => box.value);
  const tags = splitTags($("#filter-tags", form).value);
  const tagsMode = $("#tags-mode", form).value;
  const dueFrom = $("#due-from", form).value;
  const dueUntil = $("#due-until", form).value;
  const search = $("#search", form).value.trim();
  // Sent as typed, so that an error's position points into what the user sees.
  const filterText = $("#filter-text", form).value;
  const filter = filterText.trim() ? filterText : "";
  const sortBy = $("#sort-by", form).value;
  const sortOrder = $("#sort-order", form).value;

  // "Due from" and "Due until" are whole days in the user's zone, both included. The server's bounds are
  // exclusive, so "from" starts one millisecond before that midnight and "until" ends at the next one.
  const after = dueFrom ? startOfDay(dueFrom) - 1 : null;
  const before = dueUntil ? startOfDay(dueUntil, 1) : null;

  const grouped = !sortBy;
  const params = {
    tz: zone(),
    search,
    filter,
    completed: status === "open" ? "false" : status === "done" ? "true" : "",
    overdue: status === "overdue" ? "true" : "",
    priority: priorities.join(","),
    tags: tags.join(","),
    tags_mode: tags.length > 1 ? tagsMode : "",
    due_after: after === null ? "" : new Date(after).toISOString(),
    due_before: before === null ? "" : new Date(before).toISOString(),
    sort_by: grouped ? "due_date" : sortBy,
    sort_order: grouped ? "asc" : sortOrder,
  };
  const saved = Object.fromEntries(Object.entries({ ...params, sort_by: sortBy, sort_order: sortBy ? sortOrder : "" })
    .filter(([name, value]) => name !== "tz" && value !== ""));

  const test = (task) => {
    if (status === "open" && task.completed) return false;
    if (status === "done" && !task.completed) return false;
    if (status === "overdue" && !isOverdue(task)) return false;
    if (priorities.length && !priorities.includes(task.priority)) return false;
    if (tags.length) {
      const has = (tag) => task.tags.includes(tag);
      if (tagsMode === "any" && tags.length > 1 ? !tags.some(has) : !tags.every(has)) return false;
    }
    if (after !== null || before !== null) {
      if (task.due_date === null) return false;
      const due = new Date(task.due_date).getTime();
      if (after !== null && !(due > after)) return false;
      if (before !== null && !(due < before)) return false;
    }
    if (search || filter) return null;
    return true;
  };

  const active = Boolean(priorities.length || tags.length || dueFrom || dueUntil || filter || sortBy);
  return { params, test, ordered: !sortBy && !search, active, grouped, saved };
}

export function clearFilters(form) {
  for (const box of $$('input[name="priority"]', form)) box.checked = false;
  for (const id of ["#filter-tags", "#due-from", "#due-until", "#filter-text", "#sort-by", "#sort-order"]) {
    $(id, form).value = "";
  }
  $("#tags-mode", form).value = "all";
}

/** A 400 about `filter`: its message, and the text with the offending character marked. */
export function showFilterError(box, input, error) {
  const message = box.querySelector(".message");
  const echo = box.querySelector(".filter-echo");
  if (!error) {
    box.hidden = true;
    input.removeAttribute("aria-invalid");
    return;
  }
  message.textContent = error.message;
  echo.replaceChildren();
  const text = input.value;
  const position = Number.isInteger(error.details?.position) ? error.details.position : null;
  if (position !== null && position <= text.length) {
    const mark = document.createElement("mark");
    // Past the end means "something is missing here": mark a blank.
    mark.textContent = text.slice(position, position + 1) || " ";
    echo.append(text.slice(0, position), mark, text.slice(position + 1));
    echo.hidden = false;
  } else {
    echo.hidden = true;
  }
  box.hidden = false;
  input.setAttribute("aria-invalid", "true");
}
