/** The dashboard's entry point: sign-in, the sections, and the wiring between list, dialogs and /ws. */

import { api, setToken, whenUnauthorized } from "./api.js";
import { $, $$, debounce, h, setMessage } from "./dom.js";
import { confirmDialog } from "./dialogs.js";
import { loadFeatures } from "./features.js";
import { clearFilters, readFilters, showFilterError } from "./filters.js";
import { localDateTime } from "./format.js";
import { TaskHistory } from "./history.js";
import { LiveConnection } from "./live.js";
import { Notifications } from "./notifications.js";
import { QuickAdd } from "./quick-add.js";
import { RecurringPanel } from "./recurring.js";
import { SavedViews } from "./saved-views.js";
import { claims, clean, forgetToken, storedToken, storeToken, takeTokenFromLink } from "./session.js";
import { Settings } from "./settings.js";
import { openHelp, wireShortcuts } from "./shortcuts.js";
import { TaskEditor } from "./task-editor.js";
import { TaskList } from "./tasks.js";
import { errorToast, toast } from "./toasts.js";
import { onZoneChange, zone } from "./zone.js";

const MAX_TIMER = 2 ** 31 - 1;

const state = { token: null, signedIn: false, expiryTimer: null, features: {} };
let list;
let editor;
let recurring;
let notifications;
let live;
let quickAdd;
let views;
let history;
let settings;

// Signing in and out ----------------------------------------------------------------------------

function tokenProblem(token) {
  const payload = claims(token);
  if (!payload) return "That does not look like a token: expected a JWT (three parts separated by dots).";
  if (typeof payload.exp === "number" && payload.exp * 1000 <= Date.now()) {
    return `This token expired on ${localDateTime(new Date(payload.exp * 1000).toISOString())}.`;
  }
  return null;
}

async function signIn(token) {
  const problem = tokenProblem(token);
  if (problem) {
    showSignIn(problem);
    return false;
  }
  setToken(token);
  try {
    await api.get("/api/tasks", { params: { limit: 1 } });
  } catch (error) {
    setToken(null);
    showSignIn(error.status === 401 ? `The server did not accept this token: ${error.message}` : error.message);
    return false;
  }
  storeToken(token);
  state.token = token;
  state.signedIn = true;
  const payload = claims(token) || {};
  const who = $("#signed-in-as");
  who.textContent = payload.sub ? `Signed in as ${payload.sub}` : "Signed in";
  who.hidden = false;
  $("#sign-out").hidden = false;
  $("#show-help").hidden = false;
  $("#sign-in").hidden = true;
  $("#app").hidden = false;
  $("#tab-recurring").hidden = !state.features.recurring;
  $("#tab-settings").hidden = !settings.enabled;
  $("#tabs").hidden = !state.features.recurring && !settings.enabled;
  $("#connection").hidden = false;
  await settings.loadZone();
  showSection("tasks");
  if (typeof payload.exp === "number") {
    const left = payload.exp * 1000 - Date.now();
    clearTimeout(state.expiryTimer);
    state.expiryTimer = setTimeout(() => signOut("Your token expired. Sign in with a new one."), Math.min(left, MAX_TIMER));
  }
  live.start();
  applyFilters();
  notifications.load();
  views.load();
  return true;
}

function signOut(message = "") {
  clearTimeout(state.expiryTimer);
  const wasSignedIn = state.signedIn;
  state.signedIn = false;
  state.token = null;
  live.stop();
  forgetToken();
  setToken(null);
  list.clear();
  recurring.clear();
  notifications.clear();
  views.clear();
  quickAdd.hidePreview();
  for (const dialog of $$("dialog[open]")) dialog.close();
  $("#signed-in-as").hidden = true;
  $("#sign-out").hidden = true;
  $("#show-help").hidden = true;
  $("#connection").hidden = true;
  $("#app").hidden = true;
  showSignIn(message);
  if (wasSignedIn && !message) toast("Signed out");
}

function showSignIn(message = "") {
  $("#sign-in").hidden = false;
  $("#app").hidden = true;
  const input = $("#token-input");
  setMessage($("#token-error"), message);
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  input.focus();
}

// Sections --------------------------------------------------------------------------------------

function showSection(name) {
  $("#tasks-panel").hidden = name !== "tasks";
  $("#views-sidebar").hidden = name !== "tasks" || !views.enabled;
  $("#recurring-panel").hidden = name !== "recurring";
  $("#settings-panel").hidden = name !== "settings";
  for (const tab of $$(".tab")) {
    if (tab.id === `tab-${name}`) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  if (name === "recurring") recurring.load();
  if (name === "settings") settings.load();
}

// Tasks -----------------------------------------------------------------------------------------

function applyFilters() {
  if (!state.signedIn) return;
  const query = readFilters($("#filters"));
  $("#more-filters").textContent = query.active ? "Filters •" : "Filters";
  const view = views.active();
  $("#filters").hidden = Boolean(view);
  $("#view-banner").hidden = !view;
  if (view) {
    $("#view-banner-name").textContent = view.name;
    list.setQuery(viewQuery(view));
  } else {
    list.setQuery(query);
  }
}

/** A saved view's list: the server applies its parameters; the due-date groups unless it sorts. */
function viewQuery(view) {
  const grouped = !view.query.sort_by && !view.query.search;
  const params = { view: view.id, tz: zone() };
  if (grouped) Object.assign(params, { sort_by: "due_date", sort_order: "asc" });
  return { params, test: () => null, ordered: false, active: true, grouped, saved: view.query };
}

function refreshKnownTags() {
  $("#known-tags").replaceChildren(...list.knownTags().map((tag) => h("option", { value: tag })));
}

async function toggle(task) {
  const latest = list.find(task.id) || task;
  const action = latest.completed ? "uncomplete" : "complete";
  try {
    const saved = await api.post(`/api/tasks/${latest.id}/${action}`);
    list.upsert(saved);
    toast(saved.completed ? `Done: “${saved.title}”` : `Reopened “${saved.title}”`);
  } catch (error) {
    if (error.status === 404) list.remove(task.id);
    errorToast(error, "Could not change the task");
  }
}

async function remove(task) {
  const sure = await confirmDialog({ title: "Delete task?", text: `“${task.title}” will be deleted for good.` });
  if (!sure) return;
  const row = $(`#task-list [data-id="${task.id}"]`);
  const next = row?.nextElementSibling || row?.previousElementSibling;
  try {
    await api.delete(`/api/tasks/${task.id}`);
  } catch (error) {
    if (error.status !== 404) {
      errorToast(error, "Could not delete the task");
      return;
    }
  }
  list.remove(task.id);
  toast(`Deleted “${task.title}”`);
  (next?.querySelector('[data-role="toggle"]') || $("#new-task")).focus();
}

async function openTask(id) {
  try {
    const task = list.find(id) || (await api.get(`/api/tasks/${id}`));
    showSection("tasks");
    editor.open(task);
  } catch (error) {
    errorToast(error.status === 404 ? { message: "That task no longer exists." } : error);
  }
}

// Wiring ----------------------------------------------------------------------------------------

function wireFilters() {
  const form = $("#filters");
  const soon = debounce(applyFilters, 300);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    soon.cancel();
    applyFilters();
  });
  $("#search").addEventListener("input", soon);
  form.addEventListener("change", (event) => {
    if (event.target.id === "search") return;
    soon.cancel();
    applyFilters();
  });
  $("#filter-tags").addEventListener("input", debounce(applyFilters, 500));
  // The filter language applies on Enter (the form's submit) or when the box loses focus: a
  // half-typed expression is not an error worth shouting about.
  // (The form has several text fields and no submit button, so Enter would not submit it by itself.)
  for (const input of [$("#search"), $("#filter-text"), $("#filter-tags")]) {
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        soon.cancel();
        applyFilters();
      } else if (event.key === "Escape" && event.target.value) {
        event.target.value = "";
        applyFilters();
      }
    });
  }
  const more = $("#more-filters");
  more.addEventListener("click", () => {
    const details = $("#filter-details");
    details.hidden = !details.hidden;
    more.setAttribute("aria-expanded", String(!details.hidden));
    if (!details.hidden) details.querySelector("input")?.focus();
  });
  $("#clear-filters").addEventListener("click", () => {
    clearFilters(form);
    applyFilters();
  });
}

function shortcuts() {
  const onTasks = (fn) => () => {
    if ($("#tasks-panel").hidden) showSection("tasks");
    fn();
  };
  wireShortcuts(() => state.signedIn, {
    n: () => editor.open(null),
    q: onTasks(() => quickAdd.focus()),
    "/": onTasks(() => {
      if (views.active()) views.apply(null);
      $("#search").focus();
    }),
    j: onTasks(() => list.moveSelection(1)),
    k: onTasks(() => list.moveSelection(-1)),
    x: () => {
      const task = list.selected();
      if (task && !$("#tasks-panel").hidden) toggle(task);
    },
    "?": openHelp,
  });
}

function setConnection(status, detail) {
  const indicator = $("#connection");
  indicator.dataset.state = status;
  indicator.querySelector(".connection-label").textContent = status;
  indicator.title = detail ? `${status}: ${detail}` : status;
}

async function boot() {
  state.features = await loadFeatures();
  list = new TaskList(
    { list: $("#task-list"), empty: $("#empty"), total: $("#task-total"), more: $("#load-more"), error: $("#list-error") },
    {
      onToggle: toggle,
      onEdit: (task) => editor.open(list.find(task.id) || task),
      onDelete: remove,
      onHistory: state.features.audit ? (task) => history.open(list.find(task.id) || task) : null,
      onFilterError: (error) => showFilterError($("#filter-error"), $("#filter-text"), error),
      onRendered: refreshKnownTags,
    },
  );
  editor = new TaskEditor({
    features: state.features,
    onSaved: (task, created) => {
      list.upsert(task, { created });
      toast(created ? `Created “${task.title}”` : `Saved “${task.title}”`);
    },
  });
  recurring = new RecurringPanel({ features: state.features });
  history = new TaskHistory();
  settings = new Settings({ features: state.features });
  views = new SavedViews({
    features: state.features,
    current: () => readFilters($("#filters")),
    onApply: () => applyFilters(),
  });
  quickAdd = new QuickAdd({ input: $("#quick-add"), preview: $("#quick-add-preview") }, {
    available: state.features.quickAdd,
    onCreated: (answer) => {
      if (answer.task) list.upsert(answer.task, { created: true });
      const what = answer.kind === "recurring" ? "Repeating" : "Created";
      const title = answer.task?.title || answer.recurring_task?.title || "";
      toast(answer.summary ? `${what}: ${answer.summary}` : `${what} “${title}”`);
    },
    onError: (error) => errorToast(error, "Could not add the task"),
  });
  // Another zone means another "today": group, label and filter again.
  onZoneChange(() => {
    if (!state.signedIn) return;
    list.render();
    applyFilters();
  });
  notifications = new Notifications({ features: state.features, openTask });
  live = new LiveConnection({
    token: () => state.token,
    onUpdate: (update) => list.apply(update),
    onMessage: (message) => {
      if (message.type === "notification.created" && notifications.enabled) notifications.arrived(message.notification);
    },
    onReady: (seq, first) => {
      // The first page may have been read before the socket subscribed: read it again, quietly.
      if (first) list.load({ quiet: true });
    },
    onState: setConnection,
    stillAuthorized: async () => {
      try {
        await api.get("/api/tasks", { params: { limit: 1 } });
        return true;
      } catch (error) {
        return error.status !== 401;
      }
    },
  });
  whenUnauthorized(() => {
    if (state.signedIn) signOut("Your session has ended (the token expired or was revoked). Sign in again.");
  });

  $("#sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = clean($("#token-input").value);
    if (!token) {
      showSignIn("Paste a token first.");
      return;
    }
    if (await signIn(token)) $("#token-input").value = "";
  });
  // Enter signs in; Shift+Enter would only add a line break to a token, which has none.
  $("#token-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("#sign-in-form").requestSubmit();
    }
  });
  $("#sign-out").addEventListener("click", () => signOut());
  $("#tab-tasks").addEventListener("click", () => showSection("tasks"));
  $("#tab-recurring").addEventListener("click", () => showSection("recurring"));
  $("#tab-settings").addEventListener("click", () => showSection("settings"));
  $("#leave-view").addEventListener("click", () => views.apply(null));
  $("#show-help").addEventListener("click", openHelp);
  $("#new-task").addEventListener("click", () => editor.open(null));
  $("#load-more").addEventListener("click", () => list.loadMore());
  wireFilters();
  shortcuts();
  setInterval(() => list.tick(), 30_000);

  // A #token= link opened in this tab while the page is up (same document: no reload).
  window.addEventListener("hashchange", async () => {
    const token = takeTokenFromLink();
    if (!token) return;
    if (state.signedIn) signOut();
    await signIn(token);
  });

  const linked = takeTokenFromLink();
  const token = linked || storedToken();
  if (token) await signIn(token);
  else showSignIn();
  document.documentElement.dataset.ready = "true";
}

boot();
