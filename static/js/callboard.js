/* Callboard's shared browser code: the page config, API calls, localised formatting and the live
 * connection (WebSocket with reconnect and resync, polling when WebSockets are unavailable).
 * No build step and no dependency: every page loads this file first, then its own script.
 * Strings shown to people go through Django's JavaScript catalog (gettext, /jsi18n/).
 */
(function () {
  "use strict";

  const t = (text) => (typeof window.gettext === "function" ? window.gettext(text) : text);
  const lang = () => document.documentElement.lang || "en";

  /** The JSON block the page's template rendered with `json_script` (id "page-config"). */
  function config() {
    const node = document.getElementById("page-config");
    return node ? JSON.parse(node.textContent) : {};
  }

  function cookie(name) {
    const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  /** An API error carrying the server's human sentence (`detail`) and per-field messages. */
  class ApiError extends Error {
    constructor(status, body) {
      super((body && (body.detail || body.error)) || t("The server could not answer. Try again."));
      this.status = status;
      this.body = body || {};
    }
  }

  /** fetch() a JSON API path with the session and CSRF token; resolves to the parsed body. */
  async function api(path, { method = "GET", body, query } = {}) {
    let url = path;
    if (query) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        if (value !== undefined && value !== null && value !== "") params.append(key, value);
      }
      const text = params.toString();
      if (text) url += (url.includes("?") ? "&" : "?") + text;
    }
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method !== "GET") init.headers["X-CSRFToken"] = cookie("csrftoken");
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      throw new ApiError(0, { detail: t("No connection to the server.") });
    }
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await response.json() : null;
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // --- formatting (the page's language decides separators and date order) ---------------------------

  const fmt = {
    /** Seconds as h:mm:ss (1:05:09); negative or missing values as 0:00:00. */
    duration(seconds) {
      const total = Math.max(0, Math.floor(Number(seconds) || 0));
      const h = Math.floor(total / 3600);
      const m = Math.floor((total % 3600) / 60);
      const s = total % 60;
      return `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
    },
    number(value, digits = 0) {
      if (value === null || value === undefined || Number.isNaN(Number(value))) return "–";
      return new Intl.NumberFormat(lang(), { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(value);
    },
    /** A percentage given as 0–100 (the API's unit for rates). */
    percent(value, digits = 1) {
      if (value === null || value === undefined || Number.isNaN(Number(value))) return "–";
      return new Intl.NumberFormat(lang(), { style: "percent", maximumFractionDigits: digits }).format(value / 100);
    },
    money(value, currency) {
      if (value === null || value === undefined) return "–";
      try {
        return new Intl.NumberFormat(lang(), { style: "currency", currency: currency || "USD" }).format(value);
      } catch (error) {
        return fmt.number(value, 2);
      }
    },
    dateTime(iso) {
      return iso ? new Intl.DateTimeFormat(lang(), { dateStyle: "short", timeStyle: "medium" }).format(new Date(iso)) : "–";
    },
    time(iso) {
      return iso ? new Intl.DateTimeFormat(lang(), { timeStyle: "medium" }).format(new Date(iso)) : "–";
    },
    date(iso) {
      return iso ? new Intl.DateTimeFormat(lang(), { dateStyle: "medium" }).format(new Date(iso)) : "–";
    },
  };

  /** Today's date in the organisation's time zone (page config `time_zone`) as YYYY-MM-DD: what the
   * API's dates mean (a day is midnight to midnight in TIME_ZONE), whatever the browser's zone. */
  function today() {
    const zone = config().time_zone || undefined;
    return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  }

  // --- live updates --------------------------------------------------------------------------------

  /**
   * Keep a page live. `resync()` reads the whole state from the API (on load, after every (re)connect
   * and, while WebSockets are unavailable, every `pollSeconds`); `onEvent(event)` applies one
   * `dashboard:update`. `onState(state)` hears "connecting" | "live" | "polling" | "offline".
   * Returns { close() }.
   */
  function live({ path = "/ws/dashboard/", resync, onEvent, onState = () => {}, pollSeconds = 30 }) {
    let socket = null;
    let closed = false;
    let failures = 0;
    let pollTimer = null;
    let retryTimer = null;
    let greeted = false;

    const setState = (state) => {
      onState(state);
      document.querySelectorAll("[data-live-status]").forEach((node) => {
        node.dataset.state = state;
        node.textContent = {
          connecting: t("Connecting…"),
          live: t("Live"),
          polling: t("Updating every %s s").replace("%s", pollSeconds),
          offline: t("Offline"),
        }[state];
      });
    };

    const safeResync = () => Promise.resolve().then(resync).catch((error) => console.warn("resync failed", error));

    const startPolling = () => {
      if (pollTimer || closed) return;
      setState("polling");
      safeResync();
      pollTimer = setInterval(safeResync, pollSeconds * 1000);
    };
    const stopPolling = () => {
      if (pollTimer) clearInterval(pollTimer);
      pollTimer = null;
    };

    const connect = () => {
      if (closed) return;
      if (!("WebSocket" in window)) {
        startPolling();
        return;
      }
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      socket = new WebSocket(`${scheme}//${location.host}${path}`);
      if (!pollTimer) setState("connecting");
      socket.onmessage = (message) => {
        let data;
        try {
          data = JSON.parse(message.data);
        } catch (error) {
          return;
        }
        if (data.type === "dashboard:hello") {
          greeted = true;
          failures = 0;
          stopPolling();
          setState("live");
          safeResync(); // whatever happened while we were away
        } else if (data.type === "dashboard:update") {
          onEvent(data);
        }
      };
      socket.onclose = (close) => {
        socket = null;
        if (closed) return;
        if (close.code === 4401) {
          setState("offline"); // logged out: reconnecting cannot help
          return;
        }
        failures += 1;
        if (failures >= 2) startPolling(); // the page stays correct, 30 s behind at worst
        else setState("connecting");
        const delay = Math.min(30000, 1000 * 2 ** Math.min(failures, 5));
        retryTimer = setTimeout(connect, delay);
      };
    };

    // The first read happens when the socket says hello (so nothing committed between the read and the
    // subscription is missed), or at once without WebSockets; a socket slow to open does not leave the
    // page empty: after 3 s it is read anyway.
    connect();
    const slowStart = setTimeout(() => {
      if (!pollTimer && !greeted) safeResync();
    }, 3000);
    return {
      close() {
        closed = true;
        clearTimeout(slowStart);
        stopPolling();
        clearTimeout(retryTimer);
        if (socket) socket.close();
      },
    };
  }

  window.Callboard = { t, config, api, ApiError, fmt, today, live };
})();
