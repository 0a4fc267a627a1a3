/* The agent console (/agent/): the call in progress with its timer, call and status controls, the 12
 * stats of today, my KPIs, today's calls and the day's timeline.
 *
 * Where the numbers come from: the page-config block (first paint of the state), the API on every
 * resync (load, reconnect, polling) and `/ws/dashboard/` events, which always carry current values.
 * Every piece of data remembers the server time it describes; an older answer never overwrites a
 * newer one (a resync that was in flight while an event arrived, a late event after an action).
 *
 * Clocks: the call timer and the "for h:mm:ss" of the current state tick with the browser's clock
 * (Date.now(), so tests can drive it with Playwright's page.clock), but they measure from the
 * server's timestamps (started_at, answered_at, since). The two are reconciled by `offset`, the
 * server's time minus the browser's, measured from the board row's `timestamp` at first paint and at
 * every resync — never from individual events, so a browser clock that is minutes off (or a fake
 * one) still gives the right elapsed time between resyncs and the timer never jumps on an event.
 */
(function () {
  "use strict";

  const { t, fmt, api } = Callboard;
  const cfg = Callboard.config();
  const me = cfg.user.id;
  const byId = (id) => document.getElementById(id);

  const STAT_KEYS = [
    "leads_today",
    "calls_total_today",
    "calls_connected_today",
    "calls_missed_today",
    "total_call_time_today",
    "average_call_time_today",
    "total_work_time_today",
    "total_logged_time_today",
    "total_break_time_today",
    "total_contacts",
    "total_rescheduled",
    "active_campaigns",
  ];
  const KPI_KEYS = ["calls_made", "successful_calls", "failed_calls", "aht", "total_talk_time", "success_rate"];
  const PERIODS = ["today", "week", "month"];
  const TIMELINE_DEBOUNCE_MS = 1500;
  const SYNC_POLL_MS = 2000;
  const SYNC_POLL_LIMIT = 150; // five minutes: then the run is reported as still running, not as done

  const labels = {};
  for (const [name, list] of Object.entries(cfg.choices || {})) {
    labels[name] = Object.fromEntries(list.map((choice) => [choice.value, choice.label]));
  }
  const label = (kind, value) => (value ? (labels[kind] && labels[kind][value]) || value : "");

  const state = {
    offset: 0, // server time − browser time, in ms
    board: null,
    boardStamp: 0,
    stats: null,
    statsStamp: 0,
    kpis: { today: null, week: null, month: null },
    kpiStamps: { today: 0, week: 0, month: 0 },
    day: null, // the organisation's local day the page shows (from the stats)
    calls: new Map(), // call_id → row of GET /api/calls/log
    callStamps: new Map(), // call_id → server time of the row
    timeline: null,
    pending: false, // an action is in flight: every control waits for it
    connection: "connecting",
  };

  const serverNow = () => Date.now() + state.offset;
  const stampOf = (iso) => (iso ? Date.parse(iso) : 0);
  const measureOffset = (iso) => {
    const server = stampOf(iso);
    if (server) state.offset = server - Date.now();
  };

  let dayOf;
  try {
    const format = new Intl.DateTimeFormat("en-CA", {
      timeZone: cfg.time_zone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
    });
    dayOf = (iso) => format.format(new Date(iso)); // en-CA writes YYYY-MM-DD
  } catch (error) {
    dayOf = (iso) => iso.slice(0, 10);
  }

  function formatMetric(key, value) {
    const unit = (cfg.metrics && cfg.metrics[key] && cfg.metrics[key].unit) || "count";
    if (value === null || value === undefined) return "–";
    if (unit === "seconds") return fmt.duration(value);
    if (unit === "percent") return fmt.percent(value);
    return fmt.number(value);
  }

  const setText = (node, text) => {
    if (node && node.textContent !== text) node.textContent = text;
  };

  // --- messages ---------------------------------------------------------------------------------------

  const alertBox = byId("console-alert");
  function showError(message) {
    alertBox.textContent = message;
  }
  function clearError() {
    alertBox.textContent = "";
    refreshFailed = false;
  }
  let refreshFailed = false; // the alert says the last resync failed; the next good one clears it

  // --- the call timer and the current state --------------------------------------------------------------

  const amber = cfg.timer.amber_seconds;
  const red = cfg.timer.red_seconds;
  const timerBox = byId("call-timer");

  function tick() {
    const call = state.board && state.board.current_call;
    if (!call) {
      timerBox.dataset.level = "idle";
      setText(byId("timer-phase"), t("No call"));
      setText(byId("timer-clock"), fmt.duration(0));
      setText(byId("timer-number"), "");
      setText(byId("timer-cue"), "");
    } else {
      // Ringing counts from started_at; once answered the timer restarts from answered_at, because
      // talk time (duration_seconds, what the agent is measured on) runs from the answer.
      const answered = Boolean(call.answered_at);
      const since = stampOf(answered ? call.answered_at : call.started_at);
      const seconds = Math.max(0, Math.floor((serverNow() - since) / 1000));
      const level = seconds >= red ? "red" : seconds >= amber ? "amber" : "normal";
      timerBox.dataset.level = level;
      setText(byId("timer-phase"), answered ? t("Talking") : t("Ringing"));
      setText(byId("timer-clock"), fmt.duration(seconds));
      setText(byId("timer-number"), call.phone_number || "");
      setText(
        byId("timer-cue"),
        level === "red"
          ? t("Very long call: over %s").replace("%s", fmt.duration(red))
          : level === "amber"
            ? t("Long call: over %s").replace("%s", fmt.duration(amber))
            : ""
      );
    }
    const board = state.board;
    const now = byId("state-now");
    if (!board) {
      setText(byId("state-label"), "–");
      setText(byId("state-for"), "");
      return;
    }
    now.dataset.status = board.status;
    let text = label("agent_status", board.status);
    if (board.reason) text += ` (${label("break_reason", board.reason)})`;
    setText(byId("state-label"), text);
    const held = board.since ? Math.max(0, Math.floor((serverNow() - stampOf(board.since)) / 1000)) : null;
    setText(byId("state-for"), held === null ? "" : "· " + t("for %s").replace("%s", fmt.duration(held)));
  }

  // --- controls ---------------------------------------------------------------------------------------

  const startForm = byId("start-form");
  const endForm = byId("end-form");
  const breakForm = byId("break-form");
  const phoneInput = byId("start-phone");
  const endStatus = byId("end-status");
  let syncing = false; // a Twilio sync is being started or watched
  let defaultEndFor = null; // the call (and answer) the end form's default status was chosen for

  function fillSelect(select, choices, { blank } = {}) {
    select.replaceChildren();
    if (blank !== undefined) select.append(new Option(blank, ""));
    for (const choice of choices || []) select.append(new Option(choice.label, choice.value));
  }

  function renderControls() {
    const board = state.board;
    const call = board && board.current_call;
    const busy = state.pending;
    const status = board ? board.status : "offline";
    const reason = board ? board.reason : "";
    byId("start-button").disabled = busy || Boolean(call);
    phoneInput.disabled = Boolean(call);
    byId("start-direction").disabled = Boolean(call);
    byId("answered-button").disabled = busy || !call || Boolean(call.answered_at);
    byId("end-button").disabled = busy || !call;
    for (const field of [endStatus, byId("end-outcome"), byId("end-notes")]) field.disabled = !call;
    // An answered call cannot end as no_answer or busy (the server refuses it): do not offer them.
    for (const option of endStatus.options) {
      option.disabled = Boolean(call && call.answered_at) && (option.value === "no_answer" || option.value === "busy");
    }
    const key = call ? `${call.call_id}:${Boolean(call.answered_at)}` : null;
    if (key !== defaultEndFor) {
      defaultEndFor = key;
      if (call) endStatus.value = call.answered_at ? "completed" : "no_answer";
    }
    const breakReason = byId("break-reason").value;
    for (const button of document.querySelectorAll("[data-set-status]")) {
      const target = button.dataset.setStatus;
      const same = target === "break" ? status === "break" && reason === breakReason : status === target && !reason;
      button.disabled = busy || Boolean(call) || same;
    }
    setText(byId("state-hint"), call ? t("End the call before changing your status.") : "");
    byId("sync-button").disabled = syncing;
  }

  /** Run one action: one API request; the page changes only once the server has accepted it. */
  async function act(request, applied) {
    if (state.pending) return;
    clearError();
    state.pending = true;
    renderControls();
    try {
      const answer = await request();
      applied(answer);
      if (state.connection !== "live") refreshSoon(0); // no events are coming: read the result
    } catch (error) {
      showError(error.message);
    } finally {
      state.pending = false;
      renderControls();
      tick();
    }
  }

  startForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const phone = phoneInput.value.trim();
    if (!phone) {
      phoneInput.setAttribute("aria-invalid", "true");
      showError(t("Enter the phone number to call."));
      phoneInput.focus();
      return;
    }
    phoneInput.removeAttribute("aria-invalid");
    const direction = byId("start-direction").value;
    act(
      () => api("/api/calls/start", { method: "POST", body: { phone_number: phone, direction } }),
      (answer) => {
        const call = { call_id: answer.call_id, phone_number: phone, direction, started_at: answer.started_at, answered_at: null };
        updateBoard({ status: "on_call", reason: "", since: answer.started_at, current_call: call }, answer.started_at);
        phoneInput.value = "";
        byId("answered-button").focus();
      }
    );
  });

  byId("answered-button").addEventListener("click", () => {
    const call = state.board && state.board.current_call;
    if (!call) return;
    act(
      () => api("/api/calls/answered", { method: "POST", body: { call_id: call.call_id } }),
      (answer) => {
        if (state.board.current_call && state.board.current_call.call_id === answer.call_id) {
          updateBoard({ current_call: { ...state.board.current_call, answered_at: answer.answered_at } }, answer.answered_at);
        }
        byId("end-button").focus();
      }
    );
  });

  endForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const call = state.board && state.board.current_call;
    if (!call) return;
    const body = {
      call_id: call.call_id,
      status: endStatus.value,
      outcome: byId("end-outcome").value,
      notes: byId("end-notes").value.trim(),
    };
    act(
      () => api("/api/calls/end", { method: "POST", body }),
      (answer) => {
        if (state.board.current_call && state.board.current_call.call_id === answer.call_id) {
          // The agent's new state (wrap-up) arrives with the board event; the call is over now.
          updateBoard({ current_call: null }, null);
        }
        byId("end-outcome").value = "";
        byId("end-notes").value = "";
        phoneInput.focus();
      }
    );
  });

  function setStatus(status, reason) {
    act(
      () => api("/api/agents/me/status", { method: "POST", body: { status, reason } }),
      (answer) => updateBoard({ status: answer.status, reason: answer.reason, since: answer.since }, answer.since)
    );
  }
  for (const button of document.querySelectorAll(".state-buttons [data-set-status]")) {
    button.addEventListener("click", () => setStatus(button.dataset.setStatus, ""));
  }
  breakForm.addEventListener("submit", (event) => {
    event.preventDefault();
    setStatus("break", byId("break-reason").value);
  });
  byId("break-reason").addEventListener("change", renderControls);

  // --- Twilio sync ------------------------------------------------------------------------------------

  const syncResult = byId("sync-result");
  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  byId("sync-button").addEventListener("click", async () => {
    if (syncing) return;
    syncing = true;
    clearError();
    renderControls();
    setText(syncResult, t("Asking Twilio…"));
    try {
      const started = await api("/api/crm/dashboard/sync-twilio", { method: "POST", body: {} });
      setText(syncResult, t("Sync started; waiting for Twilio…"));
      let run = null;
      for (let attempt = 0; attempt < SYNC_POLL_LIMIT; attempt += 1) {
        run = await api(`/api/crm/dashboard/sync-twilio/${started.sync_run_id}`);
        if (run.status !== "running") break;
        await wait(SYNC_POLL_MS);
      }
      if (run.status === "failed") {
        setText(syncResult, "");
        showError(run.detail);
      } else {
        // succeeded: the server's sentence; still running after five minutes: says so, too
        syncResult.dataset.result = run.status;
        setText(syncResult, run.detail);
      }
    } catch (error) {
      setText(syncResult, "");
      showError(error.message);
    } finally {
      syncing = false;
      renderControls();
    }
  });

  // --- applying data ---------------------------------------------------------------------------------

  /** Merge `changes` into the board row (after an accepted action); `stamp` is the server time it describes. */
  function updateBoard(changes, stamp) {
    state.board = { ...(state.board || { status: "offline", reason: "", since: null, current_call: null }), ...changes };
    state.boardStamp = Math.max(state.boardStamp, stampOf(stamp));
    renderControls();
    tick();
  }

  function applyBoard(row) {
    if (!row || row.agent_id !== me) return;
    const stamp = stampOf(row.timestamp);
    if (stamp < state.boardStamp) return;
    state.board = row;
    state.boardStamp = stamp;
    renderControls();
    tick();
  }

  function applyStats(stats) {
    if (!stats) return;
    const stamp = stampOf(stats.timestamp);
    if (stamp < state.statsStamp) return;
    state.stats = stats;
    state.statsStamp = stamp;
    if (state.day && stats.date !== state.day) refreshSoon(0); // a new day: every list starts over
    state.day = stats.date;
    for (const key of STAT_KEYS) {
      setText(document.querySelector(`[data-stat="${key}"] .stat-value`), formatMetric(key, stats[key]));
    }
    setText(byId("stats-date"), fmt.date(`${stats.date}T12:00:00`));
  }

  function applyKpis(period, kpis, stamp) {
    if (!kpis || stamp < state.kpiStamps[period]) return;
    state.kpis[period] = kpis;
    state.kpiStamps[period] = stamp;
    for (const key of KPI_KEYS) {
      setText(document.querySelector(`[data-kpi="${period}.${key}"]`), formatMetric(key, kpis[key]));
    }
  }

  function upsertCall(row, stamp) {
    if (!row || row.agent_id !== me || !state.day || dayOf(row.started_at) !== state.day) return;
    if (stamp < (state.callStamps.get(row.call_id) || 0)) return;
    state.calls.set(row.call_id, row);
    state.callStamps.set(row.call_id, stamp);
    renderCalls();
  }

  function replaceCalls(rows, stamp) {
    const calls = new Map();
    const stamps = new Map();
    for (const row of rows) {
      calls.set(row.call_id, row);
      stamps.set(row.call_id, stamp);
    }
    // Rows an event brought while the log was being read are newer than the log's.
    for (const [id, rowStamp] of state.callStamps) {
      const row = state.calls.get(id);
      if (rowStamp > stamp && row && dayOf(row.started_at) === state.day) {
        calls.set(id, row);
        stamps.set(id, rowStamp);
      }
    }
    state.calls = calls;
    state.callStamps = stamps;
    renderCalls();
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function renderCalls() {
    const rows = [...state.calls.values()].sort(
      (a, b) => stampOf(b.started_at) - stampOf(a.started_at) || b.call_id - a.call_id
    );
    const body = byId("calls-body");
    body.replaceChildren(
      ...rows.map((row) => {
        const tr = document.createElement("tr");
        tr.dataset.callId = row.call_id;
        tr.dataset.status = row.status;
        const running = row.status === "in_progress";
        tr.append(
          cell(fmt.time(row.started_at)),
          cell(row.phone_number),
          cell(label("call_direction", row.direction)),
          cell(label("call_status", row.status)),
          cell(label("call_outcome", row.outcome) || "–"),
          cell(running ? "–" : fmt.duration(row.duration_seconds), "num")
        );
        return tr;
      })
    );
    byId("calls-empty").hidden = rows.length > 0;
    setText(byId("calls-count"), rows.length ? `(${fmt.number(rows.length)})` : "");
  }

  // --- the day's timeline -----------------------------------------------------------------------------

  function renderTimeline(timeline) {
    state.timeline = timeline;
    // Each period's part of the day, in the server's own terms (seconds_in_day: how much of it fell in
    // the day up to the server's "now"). A period that began in the day starts at started_at; one that
    // began the day before starts at midnight: its end minus seconds_in_day (for an open one the end is
    // the server's now, estimated from ours).
    const periods = timeline.periods.map((p) => {
      const length = p.seconds_in_day * 1000;
      const open = !p.ended_at;
      const from =
        dayOf(p.started_at) === timeline.date
          ? stampOf(p.started_at)
          : (open ? serverNow() : stampOf(p.ended_at)) - length;
      return { ...p, from, to: open ? from + length : stampOf(p.ended_at), open };
    });
    const now = Math.max(0, ...periods.map((p) => p.to));
    const working = periods.filter((p) => p.status !== "offline" && p.seconds_in_day > 0);
    const bar = byId("timeline-bar");
    bar.replaceChildren();
    if (working.length) {
      const start = Math.min(...working.map((p) => p.from));
      const span = Math.max(1, now - start);
      const place = (node, from, to) => {
        node.style.left = `${(100 * (from - start)) / span}%`;
        node.style.width = `${Math.max(0.3, (100 * (to - from)) / span)}%`;
      };
      for (const p of periods) {
        if (p.to <= start) continue;
        const segment = document.createElement("span");
        segment.className = "segment";
        segment.dataset.status = p.status;
        place(segment, Math.max(p.from, start), p.to);
        bar.append(segment);
      }
      for (const call of timeline.calls) {
        const mark = document.createElement("span");
        mark.className = "call-mark";
        const from = stampOf(call.started_at);
        place(mark, from, call.ended_at ? stampOf(call.ended_at) : now);
        bar.append(mark);
      }
    }
    bar.hidden = !working.length;

    const entries = [
      ...periods.map((p) => ({
          at: p.from,
          kind: "state",
          status: p.status,
          text: label("agent_status", p.status) + (p.reason ? ` (${label("break_reason", p.reason)})` : ""),
          length: p.open ? t("%s so far").replace("%s", fmt.duration(p.seconds_in_day)) : fmt.duration(p.seconds_in_day),
        })),
      ...timeline.calls.map((call) => ({
        at: stampOf(call.started_at),
        kind: "call",
        status: call.status,
        text: `${t("Call")} ${call.phone_number} · ${label("call_status", call.status)}`,
        length: call.status === "in_progress" ? t("in progress") : fmt.duration(call.duration_seconds),
      })),
    ].sort((a, b) => a.at - b.at || (a.kind === "state" ? -1 : 1));
    const list = byId("timeline-list");
    list.replaceChildren(
      ...entries.map((entry) => {
        const li = document.createElement("li");
        li.className = `entry ${entry.kind}`;
        li.dataset.status = entry.status;
        const time = document.createElement("time");
        time.dateTime = new Date(entry.at).toISOString();
        time.textContent = fmt.time(new Date(entry.at).toISOString());
        const what = document.createElement("span");
        what.className = "what";
        what.textContent = entry.text;
        const length = document.createElement("span");
        length.className = "length";
        length.textContent = entry.length;
        li.append(time, what, length);
        return li;
      })
    );
    byId("timeline-empty").hidden = entries.length > 0;
  }

  async function loadTimeline() {
    if (!state.day) return;
    const timeline = await api(`/api/agents/${me}/timeline`, { query: { date: state.day } });
    renderTimeline(timeline);
  }

  let timelineTimer = null;
  function timelineSoon() {
    clearTimeout(timelineTimer);
    timelineTimer = setTimeout(() => loadTimeline().catch((error) => showError(error.message)), TIMELINE_DEBOUNCE_MS);
  }

  // --- resync and events ------------------------------------------------------------------------------

  /** Read everything again (load, every reconnect, polling): the page then shows the server's truth. */
  async function resync() {
    const sent = serverNow();
    const kpiRequests = PERIODS.map((period) =>
      api(`/api/analytics/agents/${me}/kpis`, { query: { dateRange: period } })
    );
    const [board, stats, ...kpis] = await Promise.all([
      api("/api/agents/board", { query: { agent_id: me } }),
      api("/api/crm/dashboard/stats"),
      ...kpiRequests,
    ]);
    measureOffset(board.timestamp);
    applyBoard(board.results.find((row) => row.agent_id === me));
    applyStats(stats.stats);
    PERIODS.forEach((period, i) => applyKpis(period, kpis[i].kpis, sent));
    const day = stats.stats.date;
    const [log, timeline] = await Promise.all([
      api("/api/calls/log", { query: { user_id: me, start_date: day, end_date: day, limit: 1000 } }),
      api(`/api/agents/${me}/timeline`, { query: { date: day } }),
    ]);
    replaceCalls(log.results, sent);
    renderTimeline(timeline);
    if (refreshFailed) clearError();
  }

  let refreshTimer = null;
  function refreshSoon(delay) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(
      () =>
        resync().catch((error) => {
          showError(t("Could not refresh the console: %s").replace("%s", error.message));
          refreshFailed = true;
        }),
      delay
    );
  }

  function onEvent(event) {
    const data = event.data || {};
    const stamp = stampOf(event.timestamp);
    if (event.section === "agent_stats" && data.agent_id === me) {
      applyStats(data.stats);
      for (const period of PERIODS) applyKpis(period, data.kpis && data.kpis[period], stamp);
    } else if (event.section === "agent" && data.agent_id === me) {
      applyBoard(data);
      timelineSoon();
    } else if (event.section === "call" && data.agent_id === me) {
      upsertCall(data, stamp);
      timelineSoon();
    }
  }

  // --- "how is this computed" -------------------------------------------------------------------------

  for (const button of document.querySelectorAll("[data-how]")) {
    const formula = byId(`how-${button.dataset.how}`);
    formula.textContent = (cfg.metrics[button.dataset.how] || {}).formula || "";
    button.addEventListener("click", () => {
      formula.hidden = !formula.hidden;
      button.setAttribute("aria-expanded", String(!formula.hidden));
    });
  }
  for (const header of document.querySelectorAll("[data-formula]")) {
    header.title = (cfg.metrics[header.dataset.formula] || {}).formula || "";
  }

  // --- start -----------------------------------------------------------------------------------------

  fillSelect(byId("start-direction"), cfg.choices.call_direction);
  fillSelect(endStatus, cfg.choices.final_call_status);
  fillSelect(byId("end-outcome"), cfg.choices.call_outcome, { blank: t("No outcome") });
  fillSelect(byId("break-reason"), cfg.choices.break_reason);
  if (cfg.board) {
    measureOffset(cfg.board.timestamp);
    applyBoard(cfg.board);
  }
  renderControls();
  tick();
  setInterval(tick, 250);

  Callboard.live({
    path: cfg.ws_path,
    pollSeconds: cfg.poll_seconds,
    resync: () =>
      resync().catch((error) => {
        showError(t("Could not refresh the console: %s").replace("%s", error.message));
        refreshFailed = true;
        throw error;
      }),
    onEvent,
    onState: (connection) => {
      state.connection = connection;
    },
  });
})();
