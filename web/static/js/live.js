/**
 * The live connection to /ws: applies every change as it happens, reconnects with exponential
 * backoff and resumes from the last sequence number seen (since=N), so nothing is missed.
 */

const PING_EVERY = 25_000;
const PONG_WITHIN = 10_000;
const BACKOFF_BASE = 500;
const BACKOFF_MAX = 30_000;
/** Failed attempts in a row after which the indicator says "offline" (it keeps retrying). */
const OFFLINE_AFTER = 4;
/** Close codes after which a prompt reconnect is right: going away (1001), too slow (4008). */
const RECONNECT_AT_ONCE = new Set([4008]);

export class LiveConnection {
  /**
   * @param {object} options
   * @param {() => string} options.token the current bearer token
   * @param {(update: object) => void} options.onUpdate a task.* update, in sequence order
   * @param {(message: object) => void} [options.onMessage] any other message (e.g. notification.created)
   * @param {(seq: number, first: boolean) => void} [options.onReady] the replay is done (first: the first
   *   ready, or one after a reset, when what was loaded before may be stale)
   * @param {(state: "live"|"reconnecting"|"offline", detail: string) => void} [options.onState]
   * @param {() => Promise<boolean>} [options.stillAuthorized] false stops reconnecting (token rejected)
   */
  constructor(options) {
    this.options = options;
    this.socket = null;
    this.lastSeq = null;
    this.attempts = 0;
    this.stopped = true;
    this.readyOnce = false;
    this.timers = { retry: null, ping: null, pong: null };
    this.onOnline = () => this.reconnectNow();
    this.onOffline = () => {
      this.setState("offline", "your device is offline");
      this.socket?.close(1000, "offline");
    };
    this.onVisible = () => {
      if (document.visibilityState === "visible" && !this.isOpen()) this.reconnectNow();
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    document.addEventListener("visibilitychange", this.onVisible);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    document.removeEventListener("visibilitychange", this.onVisible);
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "signed out");
    this.lastSeq = null;
    this.readyOnce = false;
    this.setState("offline", "signed out");
  }

  isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const since = this.lastSeq === null ? "" : `?since=${this.lastSeq}`;
    return `${scheme}//${window.location.host}/ws${since}`;
  }

  connect() {
    this.clearTimers();
    if (this.stopped) return;
    if (!navigator.onLine) {
      this.setState("offline", "your device is offline");
      return;
    }
    this.setState(this.attempts >= OFFLINE_AFTER ? "offline" : "reconnecting", "connecting…");
    // The token travels as a subprotocol, not in the URL: URLs end up in logs.
    const socket = new WebSocket(this.url(), ["bearer", this.options.token()]);
    this.socket = socket;
    let ready = false;
    socket.addEventListener("message", (event) => {
      if (socket !== this.socket) return;
      clearTimeout(this.timers.pong);
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // not ours to understand; the server only sends JSON
      }
      if (message.type === "ready") {
        ready = true;
        this.attempts = 0;
        // reset: the server never reached our lastSeq (its data was restored): start over from its latest.
        this.lastSeq = message.reset === true ? (message.seq ?? 0) : Math.max(this.lastSeq ?? 0, message.seq ?? 0);
        const first = !this.readyOnce || message.reset === true;
        this.readyOnce = true;
        this.setState("live", "up to date");
        this.schedulePing();
        this.options.onReady?.(this.lastSeq, first);
      } else if (message.type === "pong") {
        // liveness only
      } else if (typeof message.type === "string" && message.type.startsWith("task.")) {
        if (typeof message.seq === "number") {
          if (this.lastSeq !== null && message.seq <= this.lastSeq) return; // seen already
          this.lastSeq = message.seq;
        }
        this.options.onUpdate(message);
      } else {
        this.options.onMessage?.(message);
      }
    });
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.clearTimers();
      if (this.stopped) return;
      this.retry(event.code, ready);
    });
    // An error is always followed by close, which decides what happens next.
    socket.addEventListener("error", () => {});
  }

  async retry(code, wasReady) {
    this.attempts += 1;
    if (!wasReady && this.options.stillAuthorized && !(await this.options.stillAuthorized())) {
      this.stop();
      return;
    }
    if (this.stopped) return;
    const immediate = RECONNECT_AT_ONCE.has(code) && this.attempts === 1;
    const delay = immediate ? 0 : this.backoff();
    const state = this.attempts >= OFFLINE_AFTER || !navigator.onLine ? "offline" : "reconnecting";
    this.setState(state, delay ? `retrying in ${Math.ceil(delay / 1000)} s` : "retrying now");
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  /** 0.5 s, 1 s, 2 s, … up to 30 s, each ±20 % so that many tabs do not come back in lockstep. */
  backoff() {
    const base = Math.min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (this.attempts - 1));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  reconnectNow() {
    if (this.stopped || this.isOpen() || (this.socket && this.socket.readyState === WebSocket.CONNECTING)) return;
    this.attempts = 0;
    this.connect();
  }

  schedulePing() {
    clearTimeout(this.timers.ping);
    this.timers.ping = setTimeout(() => {
      if (!this.isOpen()) return;
      this.socket.send('{"type":"ping"}');
      // No answer in time: the connection is dead even if the browser has not noticed yet.
      this.timers.pong = setTimeout(() => this.socket?.close(4000, "no pong"), PONG_WITHIN);
      this.schedulePing();
    }, PING_EVERY);
  }

  clearTimers() {
    for (const name of Object.keys(this.timers)) {
      clearTimeout(this.timers[name]);
      this.timers[name] = null;
    }
  }

  setState(state, detail) {
    this.options.onState?.(state, detail);
  }
}
