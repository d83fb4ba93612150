/** The signed-in token: kept in sessionStorage (this tab only), read from a #token=… link once. */

const KEY = "taskstream.token";

/** A token handed over in the URL fragment (never sent to the server), removed from the address bar. */
export function takeTokenFromLink() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const token = fragment.get("token");
  if (!token) return null;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  return clean(token);
}

export function clean(text) {
  return (text || "").trim().replace(/^bearer\s+/i, "").replace(/\s+/g, "");
}

export function storedToken() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function storeToken(token) {
  try {
    sessionStorage.setItem(KEY, token);
  } catch {
    // Storage disabled: the token lives as long as the page.
  }
}

export function forgetToken() {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Nothing stored.
  }
}

/** The JWT's claims, read without checking the signature (the server does that): for display only. */
export function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(part), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join(""),
    );
    const value = JSON.parse(json);
    return value && typeof value === "object" ? value : {};
  } catch {
    return null;
  }
}
