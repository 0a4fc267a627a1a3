/* The supervisor dashboard (/dashboard/): KPI strip, six sections with Plotly charts, the live agent
 * board, the team table and the call history. See templates/analytics/dashboard.html and
 * docs/dashboards.md.
 *
 * Every number comes from the API (API.md) or a /ws/dashboard/ event and carries a "how is this
 * computed" tooltip from GET /api/dashboard/metrics. The view (period, team, history filters, wall
 * mode) lives in the URL query string. Responses that arrive after a newer request was made are
 * dropped, and a panel whose refresh failed says so and keeps showing when its figures were read.
 */
(function () {
  "use strict";

  const C = window.Callboard;
  const t = C.t;
  const tn = (one, many, n) => (typeof window.ngettext === "function" ? window.ngettext(one, many, n) : n === 1 ? one : many);
  const Plotly = window.Plotly;
  const config = C.config();
  const root = document.querySelector("[data-dashboard]");
  if (!root) return;

  // --- the agent board's colours: seconds in a state after which a row turns amber (warn) and red
  // (alert), VICIdial-style. One table, documented in docs/dashboards.md. --------------------------
  const STATE_THRESHOLDS = {
    available: { warn: 300, alert: 900 }, // waiting for work 5 / 15 min
    on_call: { warn: 600, alert: 1200 }, // a long call: 10 / 20 min
    wrap_up: { warn: 60, alert: 180 }, // after-call work: 1 / 3 min
    break: { warn: 900, alert: 1800 }, // 15 / 30 min
    away: { warn: 300, alert: 900 }, // 5 / 15 min
    offline: null, // never coloured
  };
  const STATE_ORDER = ["on_call", "wrap_up", "available", "break", "away", "offline"];

  const SECTION_NAMES = [
    "conversation-effectiveness",
    "whatsapp-performance",
    "customer-load",
    "agent-productivity",
    "automation-impact",
    "business-impact",
  ];
  const REFRESH_DELAY_MS = 1000; // after call/kpi events: one refetch for a burst
  const SLOW_REFRESH_MS = 60000; // time keeps running (open states, "now"): re-read every minute

  const labels = (list) => Object.fromEntries((list || []).map((c) => [c.value, c.label]));
  const choices = config.choices || {};
  const STATUS_LABEL = labels(choices.agent_status);
  const REASON_LABEL = labels(choices.break_reason);
  const CALL_STATUS_LABEL = labels(choices.call_status);
  const OUTCOME_LABEL = labels(choices.call_outcome);
  const DIRECTION_LABEL = labels(choices.call_direction);
  const isAdmin = config.user && config.user.role === "admin";
  const teams = config.teams || [];

  // --- small DOM helpers -----------------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }
  const $ = (selector, scope = root) => scope.querySelector(selector);
  const $$ = (selector, scope = root) => Array.from(scope.querySelectorAll(selector));

  // --- formatting ------------------------------------------------------------------------------------

  const fmt = C.fmt;
  const num = (value) => fmt.number(value, 1);
  const pct = (value) => fmt.percent(value, 1);
  const dur = (value) => fmt.duration(value);
  const hours = (value) => t("%s h").replace("%s", fmt.number(value, 1));
  const money = (value, currency) => fmt.money(value, currency);
  const lang = () => document.documentElement.lang || "en";

  function byUnit(value, unit, currency) {
    if (unit === "seconds") return dur(value);
    if (unit === "percent") return pct(value);
    if (unit === "money") return money(value, currency);
    if (unit === "hours") return hours(value);
    return num(value);
  }

  function weekdayName(jsDay) {
    // 2023-01-01 was a Sunday (JavaScript's day 0)
    return new Intl.DateTimeFormat(lang(), { weekday: "short" }).format(new Date(2023, 0, 1 + jsDay));
  }

  function separators() {
    const parts = new Intl.NumberFormat(lang()).formatToParts(12345.6);
    const decimal = (parts.find((p) => p.type === "decimal") || { value: "." }).value;
    const group = (parts.find((p) => p.type === "group") || { value: "," }).value;
    return decimal + group;
  }

  // --- "how is this computed" ------------------------------------------------------------------------

  const metrics = new Map();
  // numbers that no registry metric describes: what they are, in words
  const LOCAL_NOTES = {
    workload: () =>
      // xgettext:no-javascript-format -- the "%" of "±25%" is a sign, not a placeholder (no interpolation here)
      t("Agents whose chats handled are within ±25% of the team's mean are balanced; above: overloaded; below: underutilized."),
    duration: () => t("Talk time of the call: from answer to end; 0 for a call nobody answered."),
    wrap_up: () => t("Time from the end of the call to the agent submitting its disposition (0 if not recorded)."),
    board: () => t("Time since the agent's current state began (the server's clock). Colours: see the legend."),
  };
  let tipCount = 0;

  /** A focusable "?" button whose tooltip (aria-describedby) explains `keys` (metric keys or local notes). */
  function how(keys, subject) {
    const id = `how-${++tipCount}`;
    const tip = h("span", { class: "how-tip", role: "tooltip", id });
    for (const key of [].concat(keys)) {
      const metric = metrics.get(key);
      if (metric) tip.append(h("span", { class: "how-item" }, h("strong", {}, metric.label), " — ", metric.formula));
      else if (LOCAL_NOTES[key]) tip.append(h("span", { class: "how-item" }, LOCAL_NOTES[key]()));
    }
    const label = subject ? t("How is this computed: %s").replace("%s", subject) : t("How is this computed?");
    const button = h("button", { type: "button", class: "how-btn", "aria-describedby": id, "aria-label": label }, "?");
    const wrap = h("span", { class: "how" }, button, tip);
    const show = () => {
      wrap.classList.add("open");
      placeTip(button, tip);
    };
    const hide = () => wrap.classList.remove("open");
    button.addEventListener("mouseenter", show);
    button.addEventListener("focus", show);
    button.addEventListener("click", () => (wrap.classList.contains("open") ? hide() : show()));
    button.addEventListener("mouseleave", () => document.activeElement !== button && hide());
    button.addEventListener("blur", hide);
    button.addEventListener("keydown", (event) => event.key === "Escape" && hide());
    return wrap;
  }

  function placeTip(button, tip) {
    const box = button.getBoundingClientRect();
    const width = Math.min(380, window.innerWidth - 16);
    tip.style.width = `${width}px`;
    const left = Math.max(8, Math.min(box.left + box.width / 2 - width / 2, window.innerWidth - width - 8));
    tip.style.left = `${left}px`;
    const below = box.bottom + 6;
    tip.style.top = `${below}px`;
    // flip above when it would leave the screen
    requestAnimationFrame(() => {
      const height = tip.offsetHeight;
      if (below + height > window.innerHeight - 8 && box.top - height - 6 > 8) tip.style.top = `${box.top - height - 6}px`;
    });
  }

  // --- state in the URL ------------------------------------------------------------------------------

  const state = readState();

  function readState() {
    const q = new URLSearchParams(location.search);
    const range = ["today", "week", "month", "custom"].includes(q.get("dateRange")) ? q.get("dateRange") : "today";
    const custom = q.get("startDate") && q.get("endDate");
    const team = teams.some((team) => String(team.id) === q.get("team_id")) ? q.get("team_id") : "";
    return {
      range: custom ? "custom" : range === "custom" ? "today" : range,
      start: custom ? q.get("startDate") : "",
      end: custom ? q.get("endDate") : "",
      team,
      agent: q.get("agent") || "",
      status: q.get("status") || "",
      from: q.get("from") || "",
      to: q.get("to") || "",
      limit: ["50", "100", "500"].includes(q.get("limit")) ? q.get("limit") : "100",
      wall: q.get("wall") === "1",
    };
  }

  function writeState(push) {
    const q = new URLSearchParams();
    if (state.range === "custom") {
      q.set("startDate", state.start);
      q.set("endDate", state.end);
    } else if (state.range !== "today") q.set("dateRange", state.range);
    for (const key of ["team", "agent", "status", "from", "to"]) {
      if (state[key]) q.set(key === "team" ? "team_id" : key, state[key]);
    }
    if (state.limit !== "100") q.set("limit", state.limit);
    if (state.wall) q.set("wall", "1");
    const url = `${location.pathname}${q.toString() ? "?" + q : ""}`;
    if (url !== location.pathname + location.search) history[push ? "pushState" : "replaceState"](null, "", url);
  }

  /** The period and team as the section APIs take them. */
  function periodQuery() {
    const query = state.range === "custom" ? { startDate: state.start, endDate: state.end } : { dateRange: state.range };
    if (state.team) query.team_id = state.team;
    return query;
  }

  function includesToday() {
    if (state.range !== "custom") return true;
    const today = C.today();
    return state.start <= today && today <= state.end;
  }

  const queryString = (query) => new URLSearchParams(Object.entries(query).filter(([, v]) => v !== "" && v != null));

  // --- loading, with stale responses dropped -----------------------------------------------------------

  const seq = {};
  const lastRead = {};

  /** Run `load` for `name`; apply its result with `apply` unless a newer load started meanwhile. */
  async function guarded(name, load, apply) {
    const mine = (seq[name] = (seq[name] || 0) + 1);
    try {
      const data = await load();
      if (seq[name] !== mine) return;
      apply(data);
      markFresh(name);
    } catch (error) {
      if (seq[name] !== mine) return;
      markFailed(name, error);
    }
  }

  function panelOf(name) {
    return SECTION_NAMES.includes(name) ? $(`[data-section="${name}"]`) : null;
  }
  function errorNode(name) {
    const panel = panelOf(name);
    return panel ? $("[data-error]", panel) : $(`[data-error="${name}"]`);
  }
  function updatedNode(name) {
    const panel = panelOf(name);
    return panel ? $("[data-updated]", panel) : $(`[data-updated="${name}"]`);
  }

  function markFresh(name) {
    lastRead[name] = new Date();
    const error = errorNode(name);
    if (error) error.textContent = "";
    const updated = updatedNode(name);
    if (updated) updated.textContent = t("Updated %s").replace("%s", fmt.time(lastRead[name].toISOString()));
    const panel = panelOf(name);
    if (panel) panel.classList.remove("stale");
  }

  function markFailed(name, error) {
    const node = errorNode(name);
    const when = lastRead[name]
      ? t("The figures shown are from %s.").replace("%s", fmt.time(lastRead[name].toISOString()))
      : t("No figures could be read.");
    if (node) node.textContent = `${error.message} ${when}`;
    const panel = panelOf(name);
    if (panel) panel.classList.add("stale");
    if (!(error instanceof C.ApiError)) console.warn(name, error);
  }

  const pending = {};
  /** One `fn` call REFRESH_DELAY_MS after the first of a burst of requests for `key`. */
  function soon(key, fn) {
    if (pending[key]) return;
    pending[key] = setTimeout(() => {
      delete pending[key];
      fn();
    }, REFRESH_DELAY_MS);
  }

  // --- Plotly --------------------------------------------------------------------------------------

  const COLORS = ["#2657d6", "#12b76a", "#f79009", "#d92d20", "#7a5af8", "#0ba5ec", "#667085"];
  const plotConfig = { responsive: true, displayModeBar: false, displaylogo: false };

  function fontSize() {
    const wide = window.innerWidth;
    const base = wide >= 2400 ? 20 : wide >= 1800 ? 16 : wide >= 1200 ? 14 : 12;
    return state.wall ? base + 4 : base;
  }

  function layout(extra) {
    const size = fontSize();
    return {
      font: { size, family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", color: "#1d2433" },
      separators: separators(),
      margin: { l: 10, r: 10, t: 10, b: 10 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      height: Math.round(size * 18),
      autosize: true,
      showlegend: false,
      colorway: COLORS,
      xaxis: { automargin: true, fixedrange: true },
      yaxis: { automargin: true, fixedrange: true, rangemode: "tozero" },
      legend: { orientation: "h" },
      ...extra,
    };
  }

  const emptyNote = (text) => ({
    annotations: [{ text, showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { size: fontSize() + 2, color: "#5b6478" } }],
    xaxis: { visible: false },
    yaxis: { visible: false },
  });

  function draw(node, figure) {
    const extra = figure.empty ? emptyNote(t("Nothing in this period")) : figure.layout || {};
    const traces = figure.empty ? [] : figure.data;
    return Plotly.react(node, traces, layout(extra), plotConfig);
  }

  const bar = (x, y, extra) => ({ type: "bar", x, y, marker: { color: COLORS[0] }, ...extra });
  const pie = (names, values) => ({
    type: "pie",
    labels: names,
    values,
    hole: 0.45,
    sort: false,
    textinfo: "label+value",
    textposition: "inside",
    marker: { colors: COLORS },
  });
  const gauge = (value, good) => ({
    type: "indicator",
    mode: "gauge+number",
    value: Number(value) || 0,
    number: { suffix: " %", valueformat: ".1f" },
    gauge: {
      axis: { range: [0, 100] },
      bar: { color: value >= good ? "#12b76a" : value >= good / 2 ? "#f79009" : "#d92d20" },
      bgcolor: "#eef1f8",
    },
  });
  const allZero = (values) => values.every((v) => !Number(v));

  /** An x range around timestamps (local wall time), at least an hour either side of a single point. */
  function timeRange(stamps) {
    if (!stamps.length) return undefined;
    const wall = stamps.map((s) => new Date(s.slice(0, 19)).getTime());
    const pad = 30 * 60 * 1000;
    const naive = (ms) => {
      const d = new Date(ms);
      const p = (n) => String(n).padStart(2, "0");
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
    };
    return [naive(Math.min(...wall) - pad), naive(Math.max(...wall) + pad)];
  }

  // --- sections: what each shows -----------------------------------------------------------------------
  // stats: {label, keys, value(d)}; charts: {title, keys, figure(d) → {data, layout, empty, rows}};
  // tables: {title, keys, columns: [{label, keys?, num?, value(row)}], rows(d), empty}

  const SECTIONS = {
    "conversation-effectiveness": {
      stats: [
        { label: t("SLA compliance"), keys: "sla_compliance", value: (d) => pct(d.slaCompliance.percentage) },
        { label: t("Within SLA"), keys: "sla_compliant", value: (d) => num(d.slaCompliance.compliant) },
        { label: t("Outside SLA"), keys: "sla_non_compliant", value: (d) => num(d.slaCompliance.nonCompliant) },
        { label: t("Resolution rate"), keys: "resolution_rate", value: (d) => pct(d.resolvedVsOpen.percentage) },
      ],
      charts: [
        {
          title: t("Conversations per agent"),
          keys: ["conversations", "first_response_time_avg"],
          figure: (d) => {
            const rows = d.conversationsPerAgent;
            return {
              empty: !rows.length,
              data: [
                bar(
                  rows.map((r) => r.agentName),
                  rows.map((r) => r.count),
                  {
                    customdata: rows.map((r) => dur(r.avgResponseTime)),
                    hovertemplate: `%{x}<br>%{y} ${t("conversations")}<br>${t("Average first response")}: %{customdata}<extra></extra>`,
                  },
                ),
              ],
              rows: rows.map((r) => [r.agentName, num(r.count), dur(r.avgResponseTime)]),
              columns: [t("Agent"), t("Conversations"), t("Average first response")],
            };
          },
        },
        {
          title: t("Average first response time (minutes)"),
          keys: "first_response_time_avg",
          figure: (d) => {
            const rows = d.avgResponseTimeOverTime;
            return {
              empty: !rows.length,
              data: [
                {
                  type: "scatter",
                  mode: "lines+markers",
                  x: rows.map((r) => r.timestamp.slice(0, 19).replace("T", " ")),
                  y: rows.map((r) => r.avgSeconds / 60),
                  customdata: rows.map((r) => dur(r.avgSeconds)),
                  hovertemplate: "%{x}<br>%{customdata}<extra></extra>",
                  line: { width: 3 },
                },
              ],
              layout: { xaxis: { automargin: true, fixedrange: true, type: "date", range: timeRange(rows.map((r) => r.timestamp)) } },
              rows: rows.map((r) => [fmt.dateTime(r.timestamp), dur(r.avgSeconds)]),
              columns: [t("From"), t("Average first response")],
            };
          },
        },
        {
          title: t("SLA compliance"),
          keys: ["sla_compliance", "sla_compliant", "sla_non_compliant"],
          figure: (d) => ({
            empty: !(d.slaCompliance.compliant + d.slaCompliance.nonCompliant),
            data: [gauge(d.slaCompliance.percentage, 90)],
            layout: { margin: { l: 40, r: 40, t: 20, b: 10 } },
            rows: [[t("SLA compliance"), pct(d.slaCompliance.percentage)]],
          }),
        },
        {
          title: t("Resolved vs open"),
          keys: ["conversations_resolved", "conversations_unresolved"],
          figure: (d) => ({
            empty: allZero([d.resolvedVsOpen.resolved, d.resolvedVsOpen.open]),
            data: [pie([t("Resolved"), t("Open")], [d.resolvedVsOpen.resolved, d.resolvedVsOpen.open])],
            rows: [
              [t("Resolved"), num(d.resolvedVsOpen.resolved)],
              [t("Open"), num(d.resolvedVsOpen.open)],
            ],
          }),
        },
      ],
    },
    "whatsapp-performance": {
      stats: [
        { label: t("Messages failed"), keys: "whatsapp_failed", value: (d) => num(d.messageFunnel.failed) },
        { label: t("Broadcast messages"), keys: "broadcast_messages", value: (d) => num(d.broadcastSuccessRate.total) },
        { label: t("Queue depth"), keys: "queue_depth", value: (d) => num(d.queueMetrics.depth) },
        { label: t("Sent per minute"), keys: "queue_processing_rate", value: (d) => num(d.queueMetrics.processingRate) },
      ],
      charts: [
        {
          title: t("Message funnel"),
          keys: ["whatsapp_sent", "whatsapp_delivered", "whatsapp_read", "whatsapp_failed"],
          figure: (d) => {
            const f = d.messageFunnel;
            const names = [t("Sent"), t("Delivered"), t("Read")];
            return {
              empty: allZero([f.sent, f.delivered, f.read]),
              data: [
                {
                  type: "funnel",
                  y: names,
                  x: [f.sent, f.delivered, f.read],
                  textinfo: "value+percent initial",
                  marker: { color: COLORS.slice(0, 3) },
                },
              ],
              layout: { yaxis: { automargin: true, fixedrange: true } },
              rows: [...names.map((n, i) => [n, num([f.sent, f.delivered, f.read][i])]), [t("Failed"), num(f.failed)]],
            };
          },
        },
        {
          title: t("Broadcast success rate"),
          keys: ["broadcast_success_rate", "broadcast_successful", "broadcast_failed"],
          figure: (d) => ({
            empty: !d.broadcastSuccessRate.total,
            data: [gauge(d.broadcastSuccessRate.percentage, 95)],
            layout: { margin: { l: 40, r: 40, t: 20, b: 10 } },
            rows: [
              [t("Sent"), num(d.broadcastSuccessRate.successful)],
              [t("Failed"), num(d.broadcastSuccessRate.failed)],
              [t("Success rate"), pct(d.broadcastSuccessRate.percentage)],
            ],
          }),
        },
      ],
      tables: [
        {
          title: t("Failed messages"),
          keys: "failed_messages",
          columns: [
            { label: t("Time"), value: (r) => fmt.dateTime(r.timestamp) },
            { label: t("Recipient"), value: (r) => r.recipient },
            { label: t("Error"), value: (r) => r.error },
          ],
          rows: (d) => d.failedMessages,
          empty: t("No failed messages in this period."),
        },
        {
          title: t("WhatsApp senders"),
          keys: "whatsapp_sessions",
          columns: [
            { label: t("Number"), value: (r) => r.phoneNumber },
            { label: t("Status"), value: (r) => ({ connected: t("connected"), disconnected: t("disconnected"), reconnecting: t("reconnecting") })[r.status] || r.status },
            { label: t("Last seen"), value: (r) => fmt.dateTime(r.lastSeen) },
          ],
          rows: (d) => d.activeSessions,
          empty: t("No WhatsApp sender is configured."),
        },
      ],
    },
    "customer-load": {
      stats: [
        {
          label: t("Peak hour"),
          keys: "conversations",
          value: (d) => (d.peakHour.hour === null ? "–" : `${String(d.peakHour.hour).padStart(2, "0")}:00`),
        },
        { label: t("Chats in the peak hour"), keys: "conversations", value: (d) => num(d.peakHour.count) },
        { label: t("Wait at peak"), keys: "first_response_time_avg", value: (d) => dur(d.avgWaitTime.peak) },
        { label: t("Wait off-peak"), keys: "first_response_time_avg", value: (d) => dur(d.avgWaitTime.offPeak) },
      ],
      charts: [
        {
          title: t("Incoming chats per hour of day"),
          keys: "conversations",
          figure: (d) => {
            const rows = d.incomingChatsPerHour;
            return {
              empty: allZero(rows.map((r) => r.count)),
              data: [
                {
                  type: "scatter",
                  mode: "lines",
                  fill: "tozeroy",
                  x: rows.map((r) => r.hour),
                  y: rows.map((r) => r.count),
                  line: { width: 3, color: COLORS[0] },
                  hovertemplate: `%{x}:00 — %{y} ${t("chats")}<extra></extra>`,
                },
              ],
              layout: { xaxis: { automargin: true, fixedrange: true, dtick: 3, range: [0, 23] } },
              rows: rows.map((r) => [`${String(r.hour).padStart(2, "0")}:00`, num(r.count)]),
            };
          },
        },
        {
          title: t("Chats by weekday and hour"),
          keys: "conversations",
          figure: (d) => {
            const order = [1, 2, 3, 4, 5, 6, 0]; // Monday first
            const cells = new Map(d.heatmap.map((c) => [`${c.dayOfWeek}:${c.hour}`, c.count]));
            const z = order.map((day) => Array.from({ length: 24 }, (_, hour) => cells.get(`${day}:${hour}`) || 0));
            const names = order.map(weekdayName);
            return {
              empty: allZero(z.flat()),
              data: [
                {
                  type: "heatmap",
                  z,
                  x: Array.from({ length: 24 }, (_, hour) => hour),
                  y: names,
                  colorscale: [
                    [0, "#f4f6fb"],
                    [1, "#2657d6"],
                  ],
                  hovertemplate: `%{y} %{x}:00 — %{z} ${t("chats")}<extra></extra>`,
                  xgap: 1,
                  ygap: 1,
                },
              ],
              layout: { yaxis: { automargin: true, fixedrange: true, autorange: "reversed" }, xaxis: { automargin: true, fixedrange: true, dtick: 3 } },
              rows: names.map((name, i) => [name, z[i].reduce((a, b) => a + b, 0)]),
              columns: [t("Day"), t("Chats")],
            };
          },
        },
        {
          title: t("New vs returning customers"),
          keys: ["conversations_new", "conversations_returning"],
          figure: (d) => ({
            empty: allZero([d.newVsReturning.new, d.newVsReturning.returning]),
            data: [pie([t("New"), t("Returning")], [d.newVsReturning.new, d.newVsReturning.returning])],
            rows: [
              [t("New"), num(d.newVsReturning.new)],
              [t("Returning"), num(d.newVsReturning.returning)],
            ],
          }),
        },
      ],
    },
    "agent-productivity": {
      charts: [
        {
          title: t("Active and idle time per agent"),
          keys: ["agent_active_time", "agent_idle_time"],
          figure: (d) => {
            const rows = d.agentMetrics;
            const names = rows.map((r) => r.agentName);
            // hours once anyone has two of them, minutes before: the axis stays readable
            const inHours = rows.some((r) => r.activeTime + r.idleTime >= 7200);
            const scale = inHours ? 3600 : 60;
            return {
              empty: allZero(rows.flatMap((r) => [r.activeTime, r.idleTime])),
              data: [
                bar(names, rows.map((r) => r.activeTime / scale), {
                  name: t("Active"),
                  customdata: rows.map((r) => dur(r.activeTime)),
                  hovertemplate: `%{x}<br>${t("Active")}: %{customdata}<extra></extra>`,
                }),
                bar(names, rows.map((r) => r.idleTime / scale), {
                  name: t("Idle"),
                  marker: { color: COLORS[2] },
                  customdata: rows.map((r) => dur(r.idleTime)),
                  hovertemplate: `%{x}<br>${t("Idle")}: %{customdata}<extra></extra>`,
                }),
              ],
              layout: {
                barmode: "stack",
                showlegend: true,
                legend: { orientation: "h", y: -0.25 },
                yaxis: { automargin: true, fixedrange: true, title: { text: inHours ? t("hours") : t("minutes") } },
              },
              rows: rows.map((r) => [r.agentName, dur(r.activeTime), dur(r.idleTime)]),
              columns: [t("Agent"), t("Active"), t("Idle")],
            };
          },
        },
        {
          title: t("Workload distribution"),
          keys: "workload",
          figure: (d) => {
            const w = d.workloadDistribution;
            const names = [t("Balanced"), t("Overloaded"), t("Underutilized")];
            const values = [w.balanced, w.overloaded, w.underutilized];
            return { empty: allZero(values), data: [pie(names, values)], rows: names.map((n, i) => [n, num(values[i])]) };
          },
        },
      ],
      tables: [
        {
          title: t("Agents"),
          keys: "conversations",
          columns: [
            { label: t("Agent"), value: (r) => r.agentName },
            { label: t("Chats"), keys: "conversations", num: true, value: (r) => num(r.chatsHandled) },
            { label: t("Resolution rate"), keys: "resolution_rate", num: true, value: (r) => pct(r.resolutionRate) },
            { label: t("Active"), keys: "agent_active_time", num: true, value: (r) => dur(r.activeTime) },
            { label: t("Idle"), keys: "agent_idle_time", num: true, value: (r) => dur(r.idleTime) },
            { label: t("Handling time"), keys: "resolution_time_avg", num: true, value: (r) => dur(r.avgHandlingTime) },
            { label: t("Chat presence"), keys: "agent_presence", value: (r) => `${r.status} · ${dur(r.statusDuration)}` },
          ],
          rows: (d) => d.agentMetrics,
          empty: t("No agents in this view."),
        },
      ],
    },
    "automation-impact": {
      stats: [
        { label: t("Chatbot share"), keys: "chatbot_share", value: (d) => pct(d.chatbotVsHuman.percentage) },
        { label: t("Drop-off"), keys: "bot_drop_off", value: (d) => `${num(d.dropOffRate.dropped)} / ${num(d.dropOffRate.total)} (${pct(d.dropOffRate.percentage)})` },
        { label: t("Agent time saved"), keys: "time_saved_hours", value: (d) => hours(d.timeSaved.hours) },
        { label: t("Cost saved"), keys: "time_saved_cost", value: (d) => money(d.timeSaved.estimatedCost, d.timeSaved.currency) },
      ],
      charts: [
        {
          title: t("Chatbot vs people"),
          keys: ["chatbot_resolved", "human_handled"],
          figure: (d) => ({
            empty: allZero([d.chatbotVsHuman.chatbot, d.chatbotVsHuman.human]),
            data: [pie([t("Chatbot"), t("People")], [d.chatbotVsHuman.chatbot, d.chatbotVsHuman.human])],
            rows: [
              [t("Chatbot"), num(d.chatbotVsHuman.chatbot)],
              [t("People"), num(d.chatbotVsHuman.human)],
            ],
          }),
        },
        {
          title: t("Auto-reply success rate"),
          keys: ["auto_reply_success_rate", "auto_reply_successful", "bot_first"],
          figure: (d) => ({
            empty: !d.autoReplySuccess.total,
            data: [gauge(d.autoReplySuccess.percentage, 70)],
            layout: { margin: { l: 40, r: 40, t: 20, b: 10 } },
            rows: [
              [t("Answered by the bot first"), num(d.autoReplySuccess.total)],
              [t("Sufficed"), num(d.autoReplySuccess.successful)],
            ],
          }),
        },
        {
          title: t("Escalation rate"),
          keys: ["escalation_rate", "escalated", "bot_first"],
          figure: (d) => ({
            empty: !d.escalationRate.total,
            data: [{ ...gauge(d.escalationRate.percentage, 0), gauge: { axis: { range: [0, 100] }, bar: { color: COLORS[4] }, bgcolor: "#eef1f8" } }],
            layout: { margin: { l: 40, r: 40, t: 20, b: 10 } },
            rows: [
              [t("Answered by the bot first"), num(d.escalationRate.total)],
              [t("Escalated"), num(d.escalationRate.escalated)],
            ],
          }),
        },
        {
          title: t("Top intents"),
          keys: "top_intents",
          figure: (d) => {
            const rows = d.topIntents;
            return {
              empty: !rows.length,
              data: [
                bar(rows.map((r) => r.count), rows.map((r) => r.intent), {
                  orientation: "h",
                  customdata: rows.map((r) => pct(r.successRate)),
                  hovertemplate: `%{y}: %{x}<br>${t("Success rate")}: %{customdata}<extra></extra>`,
                }),
              ],
              layout: { yaxis: { automargin: true, fixedrange: true, autorange: "reversed" } },
              rows: rows.map((r) => [r.intent, num(r.count), pct(r.successRate)]),
              columns: [t("Intent"), t("Replies"), t("Success rate")],
            };
          },
        },
      ],
    },
    "business-impact": {
      stats: [
        { label: t("Leads generated"), keys: "leads_generated", value: (d) => num(d.leadsGenerated.total), trend: (d) => d.leadsGenerated },
        { label: t("Repeat customer rate"), keys: "repeat_customer_rate", value: (d) => pct(d.repeatCustomerRate.rate), trend: (d) => d.repeatCustomerRate },
        { label: t("Cost per conversation"), keys: "cost_per_conversation", value: (d) => money(d.costPerConversation.amount, d.costPerConversation.currency) },
        { label: t("Saved by automation"), keys: "time_saved_cost", value: (d) => money(d.costPerConversation.savings, d.costPerConversation.currency) },
      ],
      charts: [
        {
          title: t("Tickets resolved"),
          keys: "tickets_resolved",
          figure: (d) => {
            const names = [t("Today"), t("This week"), t("This month")];
            const values = [d.ticketsResolved.today, d.ticketsResolved.week, d.ticketsResolved.month];
            return {
              empty: allZero(values),
              data: [bar(names, values, { text: values.map(num), textposition: "auto" })],
              rows: names.map((n, i) => [n, num(values[i])]),
            };
          },
        },
        {
          title: t("Campaign conversion"),
          keys: ["broadcast_successful", "campaign_responded", "leads_converted", "campaign_conversion_rate"],
          figure: (d) => {
            const rows = d.campaignConversion.slice(0, 10);
            const names = rows.map((r) => r.campaignName);
            return {
              empty: !rows.length,
              data: [
                bar(names, rows.map((r) => r.sent), { name: t("Sent") }),
                bar(names, rows.map((r) => r.responded), { name: t("Responded"), marker: { color: COLORS[1] } }),
                bar(names, rows.map((r) => r.converted), { name: t("Converted"), marker: { color: COLORS[2] } }),
              ],
              layout: { barmode: "group", showlegend: true, legend: { orientation: "h", y: -0.25 } },
              rows: d.campaignConversion.map((r) => [r.campaignName, num(r.sent), num(r.responded), num(r.converted), pct(r.conversionRate)]),
              columns: [t("Campaign"), t("Sent"), t("Responded"), t("Converted"), t("Conversion rate")],
            };
          },
        },
      ],
    },
  };

  // --- sections: built once, then updated in place --------------------------------------------------

  const sectionData = {};
  const sectionNodes = {};

  function buildSection(name) {
    const spec = SECTIONS[name];
    const panel = $(`[data-section="${name}"]`);
    const body = $("[data-body]", panel);
    const nodes = { stats: [], charts: [], tables: [] };
    if (spec.stats) {
      const grid = h("div", { class: "stats" });
      for (const stat of spec.stats) {
        const value = h("span", { class: "stat-value" }, "–");
        const trend = stat.trend ? h("span", { class: "trend" }) : null;
        grid.append(h("div", { class: "stat" }, h("span", { class: "stat-label" }, stat.label, " ", how(stat.keys, stat.label)), value, trend));
        nodes.stats.push({ stat, value, trend });
      }
      body.append(grid);
    }
    const charts = h("div", { class: "charts" });
    for (const chart of spec.charts || []) {
      const plot = h("div", { class: "chart", role: "img", "aria-label": chart.title });
      const table = h("table", { class: "data small" });
      const details = h("details", { class: "chart-data" }, h("summary", {}, t("Figures as a table")), h("div", { class: "table-wrap" }, table));
      charts.append(h("figure", { class: "chart-card" }, h("figcaption", {}, chart.title, " ", how(chart.keys, chart.title)), plot, details));
      nodes.charts.push({ chart, plot, table });
    }
    body.append(charts);
    for (const spec2 of spec.tables || []) {
      const thead = h("tr", {}, spec2.columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label, c.keys ? [" ", how(c.keys, c.label)] : [])));
      const tbody = h("tbody");
      const empty = h("p", { class: "empty", hidden: true }, spec2.empty);
      body.append(
        h("div", { class: "section-table" }, h("h3", {}, spec2.title, " ", how(spec2.keys, spec2.title)), empty, h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("thead", {}, thead), tbody))),
      );
      nodes.tables.push({ spec: spec2, tbody, empty });
    }
    sectionNodes[name] = nodes;
  }

  function renderSection(name) {
    const data = sectionData[name];
    const nodes = sectionNodes[name];
    if (!data || !nodes) return;
    for (const { stat, value, trend } of nodes.stats) {
      value.textContent = stat.value(data);
      if (trend) fillTrend(trend, stat.trend(data), true);
    }
    for (const { chart, plot, table } of nodes.charts) {
      const figure = chart.figure(data);
      draw(plot, figure);
      plot.setAttribute("aria-label", `${chart.title}: ${(figure.rows || []).map((r) => r.join(" ")).join("; ") || t("nothing in this period")}`);
      table.replaceChildren(
        figure.columns ? h("thead", {}, h("tr", {}, figure.columns.map((c) => h("th", { scope: "col" }, c)))) : "",
        h("tbody", {}, (figure.rows || []).map((row) => h("tr", {}, row.map((cell, i) => (i ? h("td", { class: "num" }, cell) : h("th", { scope: "row" }, cell)))))),
      );
    }
    for (const { spec, tbody, empty } of nodes.tables) {
      const rows = spec.rows(data);
      empty.hidden = rows.length > 0;
      tbody.replaceChildren(...rows.map((row) => h("tr", {}, spec.columns.map((c) => h("td", { class: c.num ? "num" : null }, c.value(row))))));
    }
  }

  function loadSection(name) {
    return guarded(
      name,
      () => C.api(`/api/dashboard/${name}`, { query: periodQuery() }),
      (data) => {
        sectionData[name] = data;
        renderSection(name);
      },
    );
  }
  const loadSections = () => Promise.all(SECTION_NAMES.map(loadSection));

  // --- the KPI strip ---------------------------------------------------------------------------------

  const KPIS = [
    { field: "activeConversations", key: "active_conversations", label: t("Active conversations"), better: 0 },
    { field: "avgResponseTime", key: "first_response_time_avg", label: t("Average first response"), better: -1 },
    { field: "whatsappDeliveryRate", key: "whatsapp_delivery_rate", label: t("WhatsApp delivery rate"), better: 1 },
    { field: "openTickets", key: "open_tickets", label: t("Open tickets"), better: -1 },
    { field: "messagesToday", key: "chat_messages", label: t("Messages"), better: 0 },
    { field: "callsMade", key: "calls_made", label: t("Calls made"), better: 0 },
    { field: "callSuccessRate", key: "success_rate", label: t("Call success rate"), better: 1 },
    { field: "averageHandleTime", key: "aht", label: t("Average handle time"), better: -1 },
  ];
  const kpiNodes = {};
  let kpiPeriod = null;

  function buildKpis() {
    const strip = $("[data-kpi-strip]");
    for (const kpi of KPIS) {
      const value = h("p", { class: "kpi-value", "data-value": true }, "–");
      const trend = h("p", { class: "trend" });
      const extra = h("p", { class: "kpi-extra" });
      strip.append(h("article", { class: "kpi", "data-kpi": kpi.field }, h("h3", { class: "kpi-label" }, kpi.label, " ", how(kpi.key, kpi.label)), value, trend, extra));
      kpiNodes[kpi.field] = { value, trend, extra, card: strip.lastElementChild };
    }
  }

  /** ▲ / ▼ / ▶ with the change, coloured good or bad by the metric's direction, and said in words. */
  function fillTrend(node, figure, neutral, better = 0) {
    const arrow = { up: "▲", down: "▼" }[figure.trend] || "▶";
    const words = { up: t("Up"), down: t("Down"), stable: t("Stable") }[figure.trend] || figure.trend;
    const change = Number(figure.change) || 0;
    const sign = change > 0 ? "+" : "";
    let mood = "neutral";
    if (!neutral && better && figure.trend !== "stable") mood = (figure.trend === "up") === better > 0 ? "good" : "bad";
    node.className = `trend trend-${figure.trend} mood-${mood}`;
    node.replaceChildren(
      h("span", { "aria-hidden": "true" }, arrow),
      " ",
      h("span", { class: "visually-hidden" }, `${words} `),
      `${sign}${fmt.number(change, 1)} %`,
      " ",
      h("span", { class: "vs" }, t("vs previous period")),
    );
  }

  function renderKpis(data) {
    for (const kpi of KPIS) {
      const figure = data[kpi.field];
      const nodes = kpiNodes[kpi.field];
      if (!figure || !nodes) continue;
      const unit = (metrics.get(kpi.key) || {}).unit || { avgResponseTime: "seconds", whatsappDeliveryRate: "percent" }[kpi.field];
      nodes.value.textContent = byUnit(figure.value, unit);
      fillTrend(nodes.trend, figure, false, kpi.better);
      nodes.card.dataset.sla = figure.slaStatus || "";
      if (figure.slaStatus) {
        const words = { good: t("within target"), warning: t("above target"), critical: t("far above target") }[figure.slaStatus] || figure.slaStatus;
        nodes.extra.replaceChildren(h("span", { class: `sla sla-${figure.slaStatus}` }, t("SLA: %s").replace("%s", words)));
      } else if (figure.byPriority) {
        const names = { high: t("high"), medium: t("medium"), low: t("low") };
        nodes.extra.textContent = Object.entries(figure.byPriority)
          .map(([level, count]) => `${names[level] || level} ${fmt.number(count)}`)
          .join(" · ");
      }
    }
    if (data.period) {
      kpiPeriod = data.period;
      showPeriod(data.period);
    }
  }

  function showPeriod(period) {
    const first = period.start.slice(0, 10);
    const name = { today: t("Today"), week: t("This week"), month: t("This month"), custom: t("Custom dates") }[period.label] || period.label;
    const team = teams.find((team) => String(team.id) === state.team);
    const scope = team ? team.name : isAdmin ? t("Whole organisation") : t("All my teams");
    const last = state.range === "custom" ? state.end : C.today();
    const span = first === last ? fmt.date(first + "T12:00:00") : `${fmt.date(first + "T12:00:00")} – ${fmt.date(last + "T12:00:00")}`;
    $("[data-period]").textContent = `${name}: ${span} · ${scope}`;
  }

  const loadKpis = () => guarded("kpi", () => C.api("/api/dashboard/kpi", { query: periodQuery() }), renderKpis);

  /** A kpi event carries today's strip for one group's scope: apply it only when that is the view. */
  function kpiEventMatches(data) {
    if (state.range !== "today") return false;
    const eventTeam = data.team_id === null || data.team_id === undefined ? null : String(data.team_id);
    if (state.team) return eventTeam === state.team;
    // A supervisor's unfiltered view also counts their own calls and chats (the API's scope), which no
    // team group's strip does: such a view refetches instead.
    return isAdmin && eventTeam === null;
  }

  // --- the live agent board ----------------------------------------------------------------------------

  const board = new Map(); // agent_id → {row, offset, tr}

  function boardLegend() {
    const items = Object.entries(STATE_THRESHOLDS)
      .filter(([, limits]) => limits)
      .map(([status, limits]) =>
        h(
          "li",
          {},
          h("strong", {}, STATUS_LABEL[status] || status),
          ": ",
          t("amber after %1, red after %2").replace("%1", dur(limits.warn)).replace("%2", dur(limits.alert)),
        ),
      );
    $("[data-board-legend]").replaceChildren(h("ul", {}, items));
  }

  function matchesTeam(row) {
    return !state.team || (row.teams || []).some((team) => String(team.id) === state.team);
  }

  function boardLevel(status, seconds) {
    const limits = STATE_THRESHOLDS[status];
    if (!limits) return 0;
    return seconds >= limits.alert ? 2 : seconds >= limits.warn ? 1 : 0;
  }

  function upsertBoardRow(row) {
    if (!matchesTeam(row)) {
      removeBoardRow(row.agent_id);
      return;
    }
    const offset = row.timestamp ? Date.parse(row.timestamp) - Date.now() : 0; // the server's clock
    let entry = board.get(row.agent_id);
    if (!entry) {
      const tr = h("tr", { "data-agent": row.agent_id });
      for (let i = 0; i < 5; i += 1) tr.append(h(i ? "td" : "th", i ? {} : { scope: "row" }));
      tr.children[2].classList.add("num", "elapsed");
      tr.children[4].classList.add("wide-only");
      entry = { tr };
      board.set(row.agent_id, entry);
    }
    Object.assign(entry, { row, offset });
    const cells = entry.tr.children;
    cells[0].textContent = row.agent_name;
    const reason = row.reason ? ` · ${REASON_LABEL[row.reason] || row.reason}` : "";
    cells[1].replaceChildren(h("span", { class: `state-badge st-${row.status}` }, STATUS_LABEL[row.status] || row.status), reason);
    cells[3].textContent = row.current_call ? row.current_call.phone_number : "";
    cells[4].textContent = (row.teams || []).map((team) => team.name).join(", ");
    entry.tr.dataset.status = row.status;
    tickRow(entry);
    sortBoard();
  }

  function removeBoardRow(agentId) {
    const entry = board.get(agentId);
    if (!entry) return;
    entry.tr.remove();
    board.delete(agentId);
    summarizeBoard();
  }

  function sortBoard() {
    const tbody = $("[data-board] tbody");
    const rows = Array.from(board.values()).sort(
      (a, b) =>
        STATE_ORDER.indexOf(a.row.status) - STATE_ORDER.indexOf(b.row.status) ||
        a.row.agent_name.localeCompare(b.row.agent_name, lang()),
    );
    rows.forEach((entry, i) => {
      if (tbody.children[i] !== entry.tr) tbody.insertBefore(entry.tr, tbody.children[i] || null);
    });
    summarizeBoard();
    fillAgentChoices();
  }

  function summarizeBoard() {
    const counts = {};
    for (const { row } of board.values()) counts[row.status] = (counts[row.status] || 0) + 1;
    $("[data-board-summary]").replaceChildren(
      ...STATE_ORDER.filter((status) => counts[status]).map((status) =>
        h("span", { class: `state-badge st-${status}` }, `${STATUS_LABEL[status] || status} ${counts[status]}`),
      ),
    );
    if (!board.size) $("[data-board-summary]").textContent = t("No agents in this view.");
  }

  function tickRow(entry) {
    const { row, offset, tr } = entry;
    const cell = tr.children[2];
    if (!row.since) {
      cell.textContent = "–";
      tr.dataset.level = "0";
      return;
    }
    const seconds = Math.max(0, (Date.now() + offset - Date.parse(row.since)) / 1000);
    cell.textContent = dur(seconds);
    const level = boardLevel(row.status, seconds);
    if (tr.dataset.level !== String(level)) {
      tr.dataset.level = String(level);
      cell.title = level === 2 ? t("Very long in this state") : level === 1 ? t("Long in this state") : "";
    }
  }

  function loadBoard() {
    return guarded(
      "board",
      () => C.api("/api/agents/board", { query: { team_id: state.team } }),
      (data) => {
        const seen = new Set(data.results.map((row) => row.agent_id));
        for (const id of Array.from(board.keys())) if (!seen.has(id)) removeBoardRow(id);
        data.results.forEach(upsertBoardRow);
        summarizeBoard();
      },
    );
  }

  // --- the team table --------------------------------------------------------------------------------

  const TEAM_COLUMNS = [
    { key: "calls_made", label: t("Calls"), value: (k) => num(k.calls_made) },
    { key: "successful_calls", label: t("Successful"), value: (k) => num(k.successful_calls) },
    { key: "failed_calls", label: t("Failed"), value: (k) => num(k.failed_calls) },
    { key: "success_rate", label: t("Success rate"), value: (k) => pct(k.success_rate) },
    { key: "aht", label: t("Average handle time"), value: (k) => dur(k.aht) },
    { key: "total_talk_time", label: t("Talk time"), value: (k) => dur(k.total_talk_time) },
    { key: "occupancy", label: t("Occupancy"), value: (k) => pct(k.occupancy) },
  ];
  let teamRows = [];

  function buildTeamTable() {
    $("[data-team-table] thead tr").replaceChildren(
      h("th", { scope: "col" }, t("Agent")),
      h("th", { scope: "col", class: "wide-only" }, t("Teams")),
      ...TEAM_COLUMNS.map((c) => h("th", { scope: "col", class: "num" }, c.label, " ", how(c.key, c.label))),
    );
  }

  function renderTeamTable() {
    const tbody = $("[data-team-table] tbody");
    if (!teamRows.length) {
      tbody.replaceChildren(h("tr", {}, h("td", { colspan: TEAM_COLUMNS.length + 2, class: "empty" }, t("No agents in this view."))));
      return;
    }
    tbody.replaceChildren(
      ...teamRows.map((row) =>
        h(
          "tr",
          { "data-agent": row.agent_id },
          h("th", { scope: "row" }, row.agent_name),
          h("td", { class: "wide-only" }, row.teams.map((team) => team.name).join(", ")),
          ...TEAM_COLUMNS.map((c) => h("td", { class: "num", "data-kpi": c.key }, c.value(row.kpis))),
        ),
      ),
    );
    fillAgentChoices();
  }

  const loadTeamTable = () =>
    guarded(
      "team",
      () => C.api("/api/analytics/agents/kpis", { query: periodQuery() }),
      (data) => {
        teamRows = data.results;
        renderTeamTable();
      },
    );

  // --- call history -----------------------------------------------------------------------------------

  let historyRows = [];

  function fillAgentChoices() {
    const select = $("#h-agent");
    const people = new Map();
    for (const row of teamRows) people.set(String(row.agent_id), row.agent_name);
    for (const { row } of board.values()) people.set(String(row.agent_id), row.agent_name);
    const wanted = [["", t("All agents")], ...Array.from(people.entries()).sort((a, b) => a[1].localeCompare(b[1], lang()))];
    const current = Array.from(select.options).map((o) => [o.value, o.textContent]);
    if (JSON.stringify(current) === JSON.stringify(wanted) && (!state.agent || select.value === state.agent)) return;
    select.replaceChildren(...wanted.map(([value, name]) => h("option", { value }, name)));
    if (state.agent && !people.has(state.agent)) select.append(h("option", { value: state.agent }, `#${state.agent}`));
    select.value = state.agent;
  }

  /** The call-log query: the history's own dates, else the dashboard's period. */
  function historyQuery() {
    const query = { limit: state.limit, user_id: state.agent, team_id: state.team, status: state.status };
    if (state.from || state.to) {
      query.start_date = state.from;
      query.end_date = state.to;
    } else if (state.range === "custom") {
      query.start_date = state.start;
      query.end_date = state.end;
    } else {
      query.start_date = kpiPeriod ? kpiPeriod.start.slice(0, 10) : firstDayOf(state.range);
    }
    return query;
  }

  function firstDayOf(range) {
    const day = new Date(`${C.today()}T12:00:00`);
    if (range === "week") day.setDate(day.getDate() - ((day.getDay() + 6) % 7));
    if (range === "month") day.setDate(1);
    const pad = (n) => String(n).padStart(2, "0");
    return `${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}`;
  }

  /** Team filter: the call log is read with team_id; a live call event is kept to the team's agents here. */
  function inTeam(call) {
    if (!state.team) return true;
    const row = board.get(call.agent_id) || teamRows.find((r) => r.agent_id === call.agent_id);
    return Boolean(row && (row.row ? matchesTeam(row.row) : matchesTeam(row)));
  }

  function matchesHistory(call) {
    const query = historyQuery();
    const day = localDay(call.started_at);
    if (query.user_id && String(call.agent_id) !== String(query.user_id)) return false;
    if (query.status && call.status !== query.status) return false;
    if (query.start_date && day < query.start_date) return false;
    if (query.end_date && day > query.end_date) return false;
    return inTeam(call);
  }

  /** The organisation's local day of a moment (what the call log's dates mean), as YYYY-MM-DD. */
  const dayFormat = new Intl.DateTimeFormat("en-CA", { timeZone: config.time_zone || undefined, year: "numeric", month: "2-digit", day: "2-digit" });
  function localDay(iso) {
    return dayFormat.format(new Date(iso));
  }

  function renderHistory() {
    const tbody = $("[data-history] tbody");
    const rows = historyRows; // read with team_id: the server already kept the team's calls
    tbody.replaceChildren(
      ...rows.map((call) =>
        h(
          "tr",
          { "data-call": call.call_id, "data-status": call.status },
          h("td", {}, fmt.dateTime(call.started_at)),
          h("td", {}, agentName(call)),
          h("td", {}, call.phone_number),
          h("td", {}, DIRECTION_LABEL[call.direction] || call.direction),
          h("td", {}, h("span", { class: `call-status cs-${call.status}` }, CALL_STATUS_LABEL[call.status] || call.status)),
          h("td", {}, OUTCOME_LABEL[call.outcome] || call.outcome || ""),
          h("td", { class: "num" }, call.status === "in_progress" ? "…" : dur(call.duration_seconds)),
          h("td", { class: "num" }, dur(call.wrap_up_seconds)),
        ),
      ),
    );
    const limit = Number(state.limit);
    let text = rows.length
      ? tn("%s call, newest first.", "%s calls, newest first.", rows.length).replace("%s", fmt.number(rows.length))
      : t("No calls match.");
    if (historyRows.length >= limit) text += " " + t("Only the newest %s are shown; narrow the filter to see older ones.").replace("%s", fmt.number(limit));
    $("[data-history-count]").textContent = text;
  }

  function agentName(call) {
    const entry = board.get(call.agent_id);
    if (entry) return entry.row.agent_name;
    const row = teamRows.find((r) => r.agent_id === call.agent_id);
    return row ? row.agent_name : call.agent;
  }

  const loadHistory = () =>
    guarded(
      "history",
      () => C.api("/api/calls/log", { query: historyQuery() }),
      (data) => {
        historyRows = data.results;
        renderHistory();
      },
    );

  function applyCallEvent(call) {
    const at = historyRows.findIndex((row) => row.call_id === call.call_id);
    if (matchesHistory(call)) {
      if (at >= 0) historyRows[at] = call;
      else historyRows.unshift(call);
      historyRows.sort((a, b) => b.started_at.localeCompare(a.started_at) || b.call_id - a.call_id);
      historyRows = historyRows.slice(0, Number(state.limit));
    } else if (at >= 0) historyRows.splice(at, 1);
    seq.history = (seq.history || 0) + 1; // an older read in flight must not undo this
    renderHistory();
  }

  // --- exports ----------------------------------------------------------------------------------------

  function exportLinks(base, title, query) {
    return ["csv", "xlsx"].map((format) =>
      h(
        "a",
        {
          class: "button small",
          href: `${base}?${queryString({ format, ...query })}`,
          download: true,
          "aria-label": t("%1 of %2").replace("%1", format.toUpperCase()).replace("%2", title),
        },
        format.toUpperCase(),
      ),
    );
  }

  function renderExports() {
    $("[data-export-pdf]").href = `/api/dashboard/export.pdf?${queryString(periodQuery())}`;
    for (const name of SECTION_NAMES) {
      const panel = $(`[data-section="${name}"]`);
      $("[data-exports]", panel).replaceChildren(...exportLinks(`/api/dashboard/${name}/export`, $("h2", panel).textContent, periodQuery()));
    }
    $("[data-team-exports]").replaceChildren(...exportLinks("/api/analytics/agents/kpis/export", $("#team-title").textContent, periodQuery()));
    const csv = h(
      "a",
      {
        class: "button small",
        download: true,
        href: `/api/calls/log?${queryString({ ...historyQuery(), format: "csv" })}`,
        "aria-label": t("%1 of %2").replace("%1", "CSV").replace("%2", $("#history-title").textContent),
      },
      "CSV",
    );
    $("[data-history-exports]").replaceChildren(csv);
  }

  // --- filters ------------------------------------------------------------------------------------------

  const filters = $("[data-filters]");

  function fillFilters() {
    const teamSelect = $("[data-team-select]");
    teamSelect.replaceChildren(
      h("option", { value: "" }, isAdmin ? t("Whole organisation") : t("All my teams")),
      ...teams.map((team) => h("option", { value: String(team.id) }, team.name)),
    );
    teamSelect.value = state.team;
    filters.elements.dateRange.value = state.range;
    filters.elements.startDate.value = state.start;
    filters.elements.endDate.value = state.end;
    $$("[data-custom]", filters).forEach((node) => (node.hidden = state.range !== "custom"));
    const historyForm = $("[data-history-filters]");
    const statusSelect = historyForm.elements.status;
    statusSelect.replaceChildren(
      h("option", { value: "" }, t("Any status")),
      ...(choices.call_status || []).map((c) => h("option", { value: c.value }, c.label)),
    );
    statusSelect.value = state.status;
    historyForm.elements.from.value = state.from;
    historyForm.elements.to.value = state.to;
    historyForm.elements.limit.value = state.limit;
    fillAgentChoices();
    const wall = $("[data-wall]");
    wall.setAttribute("aria-pressed", String(state.wall));
    document.body.classList.toggle("wall", state.wall);
  }

  function applyFilters(event) {
    if (event) event.preventDefault();
    const form = filters.elements;
    const range = form.dateRange.value;
    const error = $("[data-filter-error]");
    $$("[data-custom]", filters).forEach((node) => (node.hidden = range !== "custom"));
    if (range === "custom") {
      const start = form.startDate.value;
      const end = form.endDate.value;
      if (!start || !end) {
        // wait for both dates (the submit button says so when pressed)
        if (event && event.type === "submit") error.textContent = t("Choose both dates of the custom range.");
        return;
      }
      if (end < start) {
        error.textContent = t("The end date is before the start date.");
        form.endDate.setAttribute("aria-invalid", "true");
        return;
      }
      form.endDate.removeAttribute("aria-invalid");
      Object.assign(state, { range, start, end });
    } else Object.assign(state, { range, start: "", end: "" });
    error.textContent = "";
    const team = form.team_id.value;
    if (team !== state.team) state.agent = ""; // another team's agent would show nothing
    state.team = team;
    writeState(true);
    reloadAll();
  }

  function applyHistoryFilters(event) {
    event.preventDefault();
    const form = event.target.elements;
    if (form.from.value && form.to.value && form.to.value < form.from.value) {
      $('[data-error="history"]').textContent = t("The end date is before the start date.");
      return;
    }
    Object.assign(state, { agent: form.agent.value, status: form.status.value, from: form.from.value, to: form.to.value, limit: form.limit.value });
    writeState(true);
    renderExports();
    loadHistory();
  }

  // --- putting it together -------------------------------------------------------------------------------

  let metricsLoaded = null;

  function loadMetrics() {
    if (!metricsLoaded) {
      metricsLoaded = C.api("/api/dashboard/metrics")
        .then((list) => list.forEach((metric) => metrics.set(metric.key, metric)))
        .catch((error) => {
          metricsLoaded = null; // tried again on the next resync
          $("[data-filter-error]").textContent = t("How the numbers are computed could not be loaded: %s").replace("%s", error.message);
        });
    }
    return metricsLoaded;
  }

  let built = false;
  function buildOnce() {
    if (built) return;
    built = true;
    buildKpis();
    SECTION_NAMES.forEach(buildSection);
    buildTeamTable();
    boardLegend();
    $$('[data-how-col]').forEach((th) => th.append(" ", how(th.dataset.howCol, th.textContent.trim())));
  }

  /** Everything, from the API: on load, after every (re)connect, when the view changes. */
  async function resync() {
    await loadMetrics();
    buildOnce();
    renderExports();
    await Promise.all([
      loadKpis().then(() => {
        renderExports();
        return loadHistory();
      }),
      loadSections(),
      loadBoard(),
      loadTeamTable(),
    ]);
  }

  function reloadAll() {
    fillFilters();
    renderExports();
    // drop what belongs to the previous view at once: an old team's agents must not linger
    if (state.team) for (const [id, entry] of Array.from(board.entries())) if (!matchesTeam(entry.row)) removeBoardRow(id);
    kpiPeriod = null;
    resync();
  }

  function onEvent(message) {
    const data = message.data || {};
    if (message.section === "agent") {
      if (data.agent_id !== undefined) upsertBoardRow(data);
    } else if (message.section === "call") {
      if (data.call_id !== undefined) applyCallEvent(data);
      if (includesToday()) {
        soon("team", loadTeamTable);
        soon("history", loadHistory);
        soon("sections", loadSections);
      }
    } else if (message.section === "kpi") {
      if (kpiEventMatches(data)) {
        seq.kpi = (seq.kpi || 0) + 1; // an older read in flight must not undo this
        renderKpis(data);
        markFresh("kpi");
      } else if (includesToday()) soon("kpi", loadKpis);
      if (includesToday()) soon("sections", loadSections);
    }
  }

  function tick() {
    for (const entry of board.values()) tickRow(entry);
  }

  let resizeTimer = null;
  function onResize() {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => SECTION_NAMES.forEach(renderSection), 250);
  }

  fillFilters();
  filters.addEventListener("submit", applyFilters);
  filters.elements.dateRange.addEventListener("change", applyFilters);
  filters.elements.team_id.addEventListener("change", applyFilters);
  filters.elements.endDate.addEventListener("change", applyFilters);
  filters.elements.startDate.addEventListener("change", applyFilters);
  $("[data-history-filters]").addEventListener("submit", applyHistoryFilters);
  $("[data-wall]").addEventListener("click", () => {
    state.wall = !state.wall;
    writeState(false);
    fillFilters();
    onResize();
  });
  window.addEventListener("popstate", () => {
    Object.assign(state, readState());
    reloadAll();
  });
  window.addEventListener("resize", onResize);
  setInterval(tick, 1000);
  setInterval(() => includesToday() && !document.hidden && resync(), SLOW_REFRESH_MS);

  C.live({ path: config.ws_path || "/ws/dashboard/", resync, onEvent, pollSeconds: config.poll_seconds || 30 });
})();
