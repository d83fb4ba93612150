/** Keyboard shortcuts (listed in the ? overlay); none fire while typing in a field or with a dialog open. */

import { $, $$ } from "./dom.js";
import { openDialog } from "./dialogs.js";

/** Inputs that take no text: a shortcut pressed on them is still a shortcut. */
const NOT_TYPING = new Set(["checkbox", "radio", "button", "submit", "reset"]);

/**
 * @param {() => boolean} active whether shortcuts apply now (signed in)
 * @param {object} actions key → function; keys as KeyboardEvent.key gives them ("?", "/", "j", …)
 */
export function wireShortcuts(active, actions) {
  document.addEventListener("keydown", (event) => {
    if (!active() || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if ($$("dialog[open]").length) return;
    const field = event.target.closest?.("input, textarea, select, [contenteditable]");
    if (field && !NOT_TYPING.has(field.type)) return;
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action(event);
  });
}

export function openHelp() {
  openDialog($("#help-dialog"), { focus: "#help-dialog .close" });
}
