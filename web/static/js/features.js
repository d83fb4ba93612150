/** What this server offers, read from its OpenAPI document, so the UI shows only what works. */

const OPTIONAL = {
  recurring: [["get", "/api/recurring-tasks"], ["post", "/api/recurring-tasks"]],
  templateDelete: [["delete", "/api/recurring-tasks/{}"]],
  occurrences: [["get", "/api/recurring-tasks/{}/occurrences"]],
  pause: [["post", "/api/recurring-tasks/{}/pause"], ["post", "/api/recurring-tasks/{}/resume"]],
  reminders: [["get", "/api/tasks/{}/reminders"], ["post", "/api/tasks/{}/reminders"]],
  reminderDelete: [["delete", "/api/reminders/{}"]],
  notifications: [["get", "/api/notifications"]],
  notificationRead: [["post", "/api/notifications/{}/read"]],
  readAll: [["post", "/api/notifications/read-all"]],
  snooze: [["post", "/api/notifications/{}/snooze"]],
  quickAdd: [["post", "/api/tasks/quick-add"]],
  views: [["get", "/api/views"], ["post", "/api/views"], ["delete", "/api/views/{}"]],
  viewEdit: [["patch", "/api/views/{}"]],
  audit: [["get", "/api/audit/tasks/{}"]],
  settings: [["get", "/api/settings"], ["put", "/api/settings"]],
  notificationSettings: [["get", "/api/notification-settings"], ["put", "/api/notification-settings"]],
  resendConfirmation: [["post", "/api/notification-settings/resend-confirmation"]],
  webhooks: [["get", "/api/webhooks"], ["post", "/api/webhooks"]],
  webhookDelete: [["delete", "/api/webhooks/{}"]],
  webhookDeliveries: [["get", "/api/webhooks/{}/deliveries"]],
  webhookEnable: [["post", "/api/webhooks/{}/enable"]],
  calendarToken: [["post", "/api/calendar/token"]],
};

/** "/api/tasks/{task_id}/reminders" → "/api/tasks/{}/reminders": parameter names may differ. */
const shape = (path) => path.replace(/\{[^}]*\}/g, "{}");

export function detect(document) {
  const operations = new Set();
  for (const [path, item] of Object.entries(document?.paths || {})) {
    for (const method of Object.keys(item)) operations.add(`${method.toLowerCase()} ${shape(path)}`);
  }
  const features = {};
  for (const [name, needs] of Object.entries(OPTIONAL)) {
    features[name] = needs.every(([method, path]) => operations.has(`${method} ${path}`));
  }
  return features;
}

/** The features of the server at hand; none of the optional ones when its document cannot be read. */
export async function loadFeatures() {
  try {
    const response = await fetch("/openapi.json", { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!response.ok) return detect(null);
    return detect(await response.json());
  } catch {
    return detect(null);
  }
}
