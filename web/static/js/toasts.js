/** Toasts: short messages in an aria-live region, dismissed by time, by their × or by Escape. */

import { $, h } from "./dom.js";

const DURATION = { info: 5000, notification: 10000, error: 9000 };

/** toast("Task deleted") / toast({title, body, kind: "notification"|"error", action: {label, run}}). */
export function toast(message) {
  const { title, body, kind = "info", action } = typeof message === "string" ? { title: message } : message;
  const region = $("#toasts");
  const close = () => {
    clearTimeout(timer);
    item.remove();
  };
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : null },
    h("div", { class: "toast-text" },
      body ? h("strong", {}, title) : title,
      body ? h("span", {}, body) : null,
      action ? h("div", {}, h("button", {
        type: "button", class: "toast-action",
        onclick: () => { close(); action.run(); },
      }, action.label)) : null),
    h("button", { type: "button", "aria-label": "Dismiss", onclick: close }, "×"));
  item.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
  region.append(item);
  let timer = setTimeout(close, DURATION[kind] || DURATION.info);
  // Keep it while the pointer or focus is on it.
  item.addEventListener("mouseenter", () => clearTimeout(timer));
  item.addEventListener("focusin", () => clearTimeout(timer));
  item.addEventListener("mouseleave", () => { timer = setTimeout(close, 2500); });
  return close;
}

export function errorToast(error, what) {
  const text = error?.message || String(error);
  return toast({ title: what ? `${what}: ${text}` : text, kind: "error" });
}
