/** Modal dialogs on <dialog>: Escape cancels, Enter submits, focus comes back to where it was. */

import { $ } from "./dom.js";

/** Open a dialog modally; returns a function that closes it. */
export function openDialog(dialog, { focus } = {}) {
  const opener = document.activeElement;
  if (!dialog.dataset.wired) {
    dialog.dataset.wired = "1";
    for (const button of dialog.querySelectorAll("[data-close]")) {
      button.addEventListener("click", () => dialog.close("cancel"));
    }
    // A click on the backdrop (the dialog element itself, outside its content) cancels.
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close("cancel");
    });
    // Ctrl/Cmd+Enter submits from a textarea, where Enter is a new line.
    dialog.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.form) {
        event.preventDefault();
        event.target.form.requestSubmit();
      }
    });
  }
  dialog.addEventListener("close", () => {
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
  }, { once: true });
  dialog.showModal();
  const target = focus ? $(focus, dialog) : null;
  target?.focus();
  return () => dialog.close();
}

/** "Delete …?" with Cancel and a confirming button; resolves true when confirmed. */
export function confirmDialog({ title, text, confirm = "Delete" }) {
  const dialog = $("#confirm-dialog");
  $("#confirm-title", dialog).textContent = title;
  $("#confirm-text", dialog).textContent = text;
  $("#confirm-ok", dialog).textContent = confirm;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    openDialog(dialog, { focus: "#confirm-ok" });
  });
}
