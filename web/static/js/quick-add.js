/** The quick-add box: what the server understood of the text, shown while typing; Enter creates it. */

import { ApiError, api } from "./api.js";
import { debounce, setMessage } from "./dom.js";

const PREVIEW_AFTER_MS = 200;
const ROUTE = "/api/tasks/quick-add";

export class QuickAdd {
  /**
   * @param {object} elements input, preview
   * @param {object} options available (the server documents the route), onCreated(answer), onError(error)
   */
  constructor({ input, preview }, options) {
    this.input = input;
    this.preview = preview;
    this.options = options;
    this.available = Boolean(options.available);
    this.asking = null;
    this.previewSoon = debounce(() => this.showPreview(), PREVIEW_AFTER_MS);
    input.addEventListener("input", () => {
      if (!input.value.trim()) this.hidePreview();
      else if (this.available) this.previewSoon();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.create();
      } else if (event.key === "Escape") {
        input.value = "";
        this.hidePreview();
        input.blur();
      }
    });
  }

  focus() {
    this.input.focus();
  }

  hidePreview() {
    this.previewSoon.cancel();
    this.asking?.abort();
    setMessage(this.preview, "");
    this.preview.classList.remove("error");
    this.input.removeAttribute("aria-invalid");
  }

  /** The route is gone (an older server, or one being upgraded): plain tasks from now on, no preview. */
  unavailable() {
    this.available = false;
    this.hidePreview();
  }

  async showPreview() {
    const text = this.input.value.trim();
    if (!text || !this.available) return;
    this.asking?.abort();
    const controller = new AbortController();
    this.asking = controller;
    try {
      const answer = await api.post(ROUTE, { text }, { params: { dry_run: "true" }, signal: controller.signal });
      if (controller.signal.aborted || this.input.value.trim() !== text) return;
      this.preview.classList.remove("error");
      this.input.removeAttribute("aria-invalid");
      setMessage(this.preview, answer?.summary || "");
    } catch (error) {
      if (error.name === "AbortError" || controller.signal.aborted) return;
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
        this.unavailable();
      } else if (error instanceof ApiError && error.status === 400) {
        this.preview.classList.add("error");
        this.input.setAttribute("aria-invalid", "true");
        setMessage(this.preview, error.message);
      } else {
        this.hidePreview();
      }
    } finally {
      if (this.asking === controller) this.asking = null;
    }
  }

  async create() {
    const text = this.input.value.trim();
    if (!text) return;
    this.previewSoon.cancel();
    this.asking?.abort();
    this.input.disabled = true;
    try {
      let answer = null;
      if (this.available) {
        try {
          answer = await api.post(ROUTE, { text });
        } catch (error) {
          if (!(error instanceof ApiError && (error.status === 404 || error.status === 405))) throw error;
          this.unavailable();
        }
      }
      // Without the route: the text as a plain task's title.
      answer ||= { kind: "task", task: await api.post("/api/tasks", { title: text }), summary: null };
      this.input.value = "";
      this.hidePreview();
      this.options.onCreated(answer);
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) {
        this.preview.classList.add("error");
        this.input.setAttribute("aria-invalid", "true");
        setMessage(this.preview, error.message);
      } else {
        this.options.onError(error);
      }
    } finally {
      this.input.disabled = false;
      this.input.focus();
    }
  }
}
