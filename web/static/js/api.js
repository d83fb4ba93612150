/** The REST client: the bearer token on every call, JSON both ways, the server's errors as ApiError. */

export class ApiError extends Error {
  /** `body` is the server's {"error", "message", "details"}, or null when the request never got an answer. */
  constructor(status, body, fallback) {
    super(body?.message || fallback || `request failed (${status})`);
    this.name = "ApiError";
    this.status = status;
    this.error = body?.error || (status === 0 ? "network_error" : "http_error");
    this.details = body?.details || {};
  }
}

let token = null;
let onUnauthorized = () => {};

export function setToken(value) {
  token = value;
}

/** Called once per 401 answer, e.g. to sign out when the token expired. */
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

/** Query parameters without the empty ones (the server counts "" as left out anyway). */
export function queryString(params = {}) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * One call. Resolves with the parsed JSON body (null for 204); rejects with ApiError.
 * `version` sends If-Match, so a change made meanwhile elsewhere answers 412 instead of being overwritten.
 */
export async function request(method, path, { body, params, version, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (version !== undefined) headers["If-Match"] = `"${version}"`;
  let response;
  try {
    response = await fetch(path + queryString(params), {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, null, "the server cannot be reached; check your connection");
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  if (text && (response.headers.get("Content-Type") || "").includes("json")) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    if (response.status === 401) onUnauthorized(data);
    throw new ApiError(response.status, data, `${method} ${path} answered ${response.status}`);
  }
  return data;
}

export const api = {
  get: (path, options) => request("GET", path, options),
  post: (path, body, options = {}) => request("POST", path, { ...options, body }),
  patch: (path, body, options = {}) => request("PATCH", path, { ...options, body }),
  put: (path, body, options = {}) => request("PUT", path, { ...options, body }),
  delete: (path, options) => request("DELETE", path, options),
};
