/** The sidebar of saved views: apply one (GET /api/tasks?view=ID), save the current filters, rename, delete. */

import { ApiError, api } from "./api.js";
import { $, h, setMessage } from "./dom.js";
import { confirmDialog, openDialog } from "./dialogs.js";
import { errorToast, toast } from "./toasts.js";

export class SavedViews {
  /**
   * @param {object} options features, current() → the filter bar's query, onApply(view|null)
   */
  constructor(options) {
    this.options = options;
    this.views = [];
    this.activeId = null;
    this.sidebar = $("#views-sidebar");
    this.list = $("#view-list");
    this.dialog = $("#view-dialog");
    this.form = $("#view-form");
    this.editing = null;
    $("#all-tasks").addEventListener("click", () => this.apply(null));
    $("#save-view").addEventListener("click", () => this.openEditor(null));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
  }

  get enabled() {
    return Boolean(this.options.features.views);
  }

  async load() {
    this.sidebar.hidden = !this.enabled;
    if (!this.enabled) return;
    try {
      const { views } = await api.get("/api/views");
      this.views = views;
      if (this.activeId && !views.some((v) => v.id === this.activeId)) this.apply(null);
      this.render();
    } catch (error) {
      if (error.status !== 401) errorToast(error, "Could not load saved views");
    }
  }

  clear() {
    this.views = [];
    this.activeId = null;
    this.render();
  }

  active() {
    return this.views.find((v) => v.id === this.activeId) || null;
  }

  apply(view) {
    this.activeId = view?.id || null;
    this.render();
    this.options.onApply(view);
  }

  render() {
    const all = $("#all-tasks");
    if (this.activeId) all.removeAttribute("aria-current");
    else all.setAttribute("aria-current", "page");
    this.list.replaceChildren(...this.views.map((view) => this.row(view)));
    $("#views-empty").hidden = this.views.length > 0;
  }

  row(view) {
    const active = view.id === this.activeId;
    return h("li", { class: `view${active ? " active" : ""}`, dataset: { id: view.id } },
      h("button", {
        type: "button", class: "view-name", "aria-current": active ? "page" : null,
        title: describe(view.query), onclick: () => this.apply(view),
      }, view.name),
      h("span", { class: "view-actions" },
        this.options.features.viewEdit ? h("button", {
          type: "button", class: "icon-button small", "aria-label": `Edit view “${view.name}”`,
          onclick: () => this.openEditor(view),
        }, "✎") : null,
        h("button", {
          type: "button", class: "icon-button small", "aria-label": `Delete view “${view.name}”`,
          onclick: () => this.remove(view),
        }, "×")));
  }

  /** New (from the current filters) or existing (rename, or take over the current filters). */
  openEditor(view) {
    this.editing = view;
    const f = this.form.elements;
    $("#view-dialog-title").textContent = view ? "Edit view" : "Save view";
    f.name.value = view?.name || "";
    $("#view-replace-row").hidden = !view;
    f.replace.checked = false;
    $("#view-query").textContent = describe(view ? view.query : this.options.current().saved) || "all open and done tasks";
    setMessage($("#view-form-error"), "");
    openDialog(this.dialog, { focus: "#view-name" });
  }

  async save() {
    const f = this.form.elements;
    const name = f.name.value.trim();
    const error = $("#view-form-error");
    if (!name) {
      setMessage(error, "A name is needed.");
      f.name.focus();
      return;
    }
    const current = this.options.current().saved;
    try {
      let saved;
      if (!this.editing) {
        saved = await api.post("/api/views", { name, params: current });
      } else {
        const body = { name };
        if (f.replace.checked) body.params = current;
        saved = await api.patch(`/api/views/${this.editing.id}`, body);
      }
      this.dialog.close("saved");
      const index = this.views.findIndex((v) => v.id === saved.id);
      if (index >= 0) this.views[index] = saved;
      else this.views.push(saved);
      this.views.sort((a, b) => a.name.localeCompare(b.name));
      toast(this.editing ? `Saved view “${saved.name}”` : `Created view “${saved.name}”`);
      this.apply(saved);
    } catch (failure) {
      if (failure instanceof ApiError && (failure.status === 404 || failure.status === 405) && this.editing) {
        setMessage(error, failure.status === 405
          ? "This server cannot change a saved view yet; delete it and save a new one instead."
          : "This view no longer exists (deleted elsewhere).");
      } else {
        setMessage(error, failure.message);
      }
    }
  }

  async remove(view) {
    const sure = await confirmDialog({ title: "Delete view?", text: `The saved view “${view.name}” will be deleted. `
      + "Its tasks stay as they are." });
    if (!sure) return;
    try {
      await api.delete(`/api/views/${view.id}`);
    } catch (error) {
      if (error.status !== 404) {
        errorToast(error, "Could not delete the view");
        return;
      }
    }
    this.views = this.views.filter((v) => v.id !== view.id);
    if (this.activeId === view.id) this.apply(null);
    else this.render();
    toast(`Deleted view “${view.name}”`);
  }
}

/** "completed=false · priority=HIGH · sort_by=title": a view's parameters, for a tooltip. */
export function describe(query) {
  return Object.entries(query || {}).map(([name, value]) => `${name}=${value}`).join(" · ");
}
