/* cxagent staff console: a single page, no framework, no build step.
   All server text goes into the DOM through textContent (see el()), never innerHTML. */
(() => {
  "use strict";

  const TOKEN_KEY = "cxagent.staff.token";
  const STAFF_KEY = "cxagent.staff.member";
  // Conversation.priority: 0 means "not escalated"; the rules' names map to 1..4
  // (PRIORITIES in bot/services/escalation.py).
  const PRIORITY_LABELS = { 0: "none", 1: "low", 2: "normal", 3: "high", 4: "urgent" };
  const STATUS_LABELS = { bot: "with bot", waiting: "waiting", with_agent: "with agent", closed: "closed" };
  const TYPING_EVERY_MS = 3000;
  const SVG_NS = "http://www.w3.org/2000/svg";

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    staff: readJSON(sessionStorage.getItem(STAFF_KEY)),
    intents: null, // cached list for the correction datalist
    view: null, // { name, onLive(frame), dispose() }
    ws: null,
    wsRetry: 0,
    wsTimer: null,
    countTimer: null,
  };

  function readJSON(text) {
    try { return text ? JSON.parse(text) : null; } catch { return null; }
  }

  /* ---------- DOM helpers ---------- */

  // el("div", {class: "x", onclick: fn, dataset: {...}}, child, "text", ...): strings become text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    applyAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    applyAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function applyAttrs(node, attrs) {
    if (!attrs) return;
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "testid") node.setAttribute("data-testid", value);
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  const $ = (sel, root = document) => root.querySelector(sel);

  /* ---------- formatting ---------- */

  function relTime(iso) {
    if (!iso) return "—";
    const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (seconds < 45) return "just now";
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return `${minutes} min ago`;
    const hours = Math.round(minutes / 60);
    if (hours < 24) return `${hours} h ago`;
    const days = Math.round(hours / 24);
    return days === 1 ? "yesterday" : `${days} days ago`;
  }

  const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const dayFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
  const moneyFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

  const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
  const fmtDate = (iso) => (iso ? dateFmt.format(new Date(iso)) : "—");
  const fmtDateTime = (iso) => (iso ? dateTimeFmt.format(new Date(iso)) : "—");
  const fmtDay = (day) => dayFmt.format(new Date(`${day}T00:00:00Z`));
  const pct = (share, digits = 0) => (share === null || share === undefined ? "—" : `${(share * 100).toFixed(digits)}%`);
  const priorityLabel = (p) => PRIORITY_LABELS[p] ?? String(p);

  function satisfactionClass(score) {
    if (score >= 4) return "good";
    if (score >= 3) return "ok";
    return "bad";
  }

  function sentimentLabel(score) {
    if (score === null || score === undefined) return "—";
    if (score <= -0.2) return "negative";
    if (score >= 0.2) return "positive";
    return "neutral";
  }

  function initials(name) {
    return (name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((p) => p[0].toUpperCase()).join("");
  }

  /* ---------- API ---------- */

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  // FastAPI sends {"detail": "..."} or, for validation errors, {"detail": [{msg, loc}, ...]}.
  function detailText(body, status) {
    const detail = body && body.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("; ");
    }
    return `The server answered ${status}.`;
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, "Cannot reach the server. Check your connection and try again.");
    }
    const text = await response.text();
    const data = text ? readJSON(text) : null;
    if (response.status === 401 && path !== "/api/staff/login") {
      // The token expired or was revoked: everything else is pointless until a new login.
      signOut("Your session has ended. Please sign in again.");
      throw new ApiError(401, detailText(data, 401));
    }
    if (!response.ok) throw new ApiError(response.status, detailText(data, response.status));
    return data;
  }

  /* ---------- session ---------- */

  function setSession(token, staff) {
    state.token = token;
    state.staff = staff;
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(STAFF_KEY, JSON.stringify(staff));
  }

  function signOut(message) {
    state.token = null;
    state.staff = null;
    state.intents = null;
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(STAFF_KEY);
    closeLive();
    disposeView();
    clearInterval(state.countTimer);
    showLogin(message);
  }

  function showLogin(message) {
    $("#app").hidden = true;
    $("#login-view").hidden = false;
    const notice = $("#login-notice");
    notice.textContent = message || "";
    notice.hidden = !message;
    $("#login-error").hidden = true;
    $("#login-password").value = "";
    $("#login-username").focus();
  }

  async function onLogin(event) {
    event.preventDefault();
    const error = $("#login-error");
    const submit = $('[data-testid="login-submit"]');
    const username = $("#login-username").value.trim();
    const password = $("#login-password").value;
    error.hidden = true;
    if (!username || !password) {
      error.textContent = "Enter your username and password.";
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      const result = await api("POST", "/api/staff/login", { username, password });
      setSession(result.token, result.staff);
      startApp();
    } catch (err) {
      error.textContent = err.status === 401 ? "Wrong username or password." : err.message;
      error.hidden = false;
      $("#login-password").select();
    } finally {
      submit.disabled = false;
      submit.textContent = "Sign in";
    }
  }

  function startApp() {
    $("#login-view").hidden = true;
    $("#app").hidden = false;
    $("#who-name").textContent = state.staff.name || state.staff.username;
    $("#who-avatar").textContent = initials(state.staff.name || state.staff.username);
    $("#nav-staff").hidden = state.staff.role !== "admin";
    if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/queue";
    openLive();
    refreshCount();
    clearInterval(state.countTimer);
    // Belt and braces: keep the badge right even if the socket is down.
    state.countTimer = setInterval(refreshCount, 60000);
    route();
  }

  async function boot() {
    $("#login-form").addEventListener("submit", onLogin);
    $("#logout").addEventListener("click", async () => {
      try { await api("POST", "/api/staff/logout"); } catch { /* signing out anyway */ }
      signOut("You are signed out.");
    });
    window.addEventListener("hashchange", () => { if (state.token) route(); });
    if (!state.token) return showLogin();
    try {
      // Confirms the stored token and picks up role changes made since it was issued.
      const me = await api("GET", "/api/staff/me");
      setSession(state.token, me);
      startApp();
    } catch (err) {
      if (err.status !== 401) showLogin(err.message);
    }
  }

  /* ---------- live updates (staff WebSocket) ---------- */

  function setLive(mode, text) {
    const node = $("#live-status");
    node.dataset.state = mode;
    $(".live-text", node).textContent = text;
    node.title = mode === "live" ? "Updates arrive as they happen" : "Trying to reconnect to live updates";
  }

  function openLive() {
    closeLive();
    if (!state.token) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/staff/ws?token=${encodeURIComponent(state.token)}`);
    state.ws = socket;
    setLive("connecting", state.wsRetry ? "reconnecting…" : "connecting…");
    socket.addEventListener("open", () => {
      state.wsRetry = 0;
      setLive("live", "live");
      // Anything may have changed while we were away.
      refreshCount();
      if (state.view && state.view.onLive) state.view.onLive(null);
    });
    socket.addEventListener("message", (event) => {
      const frame = readJSON(event.data);
      if (frame && frame.type === "typing") {
        if (state.view && state.view.onTyping) state.view.onTyping(frame);
        return;
      }
      if (!frame || frame.type !== "conversation") return;
      scheduleCount();
      if (state.view && state.view.onLive) state.view.onLive(frame);
    });
    let opened = false;
    socket.addEventListener("open", () => { opened = true; });
    socket.addEventListener("close", (event) => {
      if (state.ws !== socket) return; // replaced on purpose
      state.ws = null;
      if (event.code === 4401 || event.code === 4403) {
        signOut("Your session has ended. Please sign in again.");
        return;
      }
      // It never opened (the service is down or restarting): ask the API whether the token
      // still holds once it answers (api() signs out on 401).
      if (!opened) api("GET", "/api/staff/me").catch(() => {});
      // Exponential backoff with jitter, capped at 30 s, so a restarting server is not hammered.
      const delay = Math.min(30000, 1000 * 2 ** state.wsRetry) * (0.75 + Math.random() * 0.5);
      state.wsRetry += 1;
      setLive("reconnecting", "reconnecting…");
      state.wsTimer = setTimeout(openLive, delay);
    });
  }

  function closeLive() {
    clearTimeout(state.wsTimer);
    const socket = state.ws;
    state.ws = null;
    if (socket) socket.close();
  }

  function debounce(fn, ms) {
    let timer = null;
    const wrapped = (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
    wrapped.cancel = () => clearTimeout(timer);
    return wrapped;
  }

  async function refreshCount() {
    if (!state.token) return;
    try {
      const waiting = await api("GET", "/api/staff/queue?status=waiting&limit=500");
      const badge = $("#queue-count");
      badge.textContent = String(waiting.length);
      badge.hidden = waiting.length === 0;
      badge.setAttribute("aria-label", `${waiting.length} waiting`);
    } catch { /* the badge is a hint; the queue page shows errors */ }
  }
  const scheduleCount = debounce(refreshCount, 300);

  /* ---------- router ---------- */

  function disposeView() {
    if (state.view && state.view.dispose) state.view.dispose();
    state.view = null;
  }

  function route() {
    disposeView();
    const hash = location.hash.replace(/^#/, "") || "/queue";
    const parts = hash.split("/").filter(Boolean);
    const main = $("#main");
    main.replaceChildren();
    let name = parts[0] || "queue";
    if (name === "conversations" && parts[1]) state.view = conversationView(main, decodeURIComponent(parts[1]));
    else if (name === "dashboard") state.view = dashboardView(main);
    else if (name === "staff") state.view = staffView(main);
    else { name = "queue"; state.view = queueView(main); }
    for (const link of document.querySelectorAll(".nav a")) {
      const active = link.dataset.route === name || (name === "conversations" && link.dataset.route === "queue");
      if (active) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  /* ---------- shared bits ---------- */

  function errorBox() {
    const box = el("div", { class: "alert", role: "alert", hidden: true });
    box.show = (message) => { box.textContent = message; box.hidden = false; };
    box.clear = () => { box.textContent = ""; box.hidden = true; };
    return box;
  }

  function pageHeader(title, subtitle, ...actions) {
    return el("div", { class: "page-head" },
      el("div", null, el("h1", { text: title }), subtitle ? el("p", { class: "muted", text: subtitle }) : null),
      el("div", { class: "page-actions" }, actions));
  }

  function badge(text, kind, attrs) {
    return el("span", { class: `badge ${kind ? `badge-${kind}` : ""}`, ...attrs }, text);
  }

  function segmented(label, options, current, onChoose) {
    const group = el("div", { class: "segmented", role: "group", "aria-label": label });
    for (const option of options) {
      group.append(el("button", {
        type: "button",
        class: "seg",
        "aria-pressed": String(option.value === current),
        dataset: { value: String(option.value) },
        onclick: (event) => {
          for (const b of group.children) b.setAttribute("aria-pressed", String(b === event.currentTarget));
          onChoose(option.value);
        },
      }, option.label));
    }
    return group;
  }

  /* ---------- sparkline ---------- */

  function sparkline(values) {
    const width = 96;
    const height = 26;
    if (!values || values.length === 0) return el("span", { class: "muted small", text: "no data" });
    const last = values[values.length - 1];
    const label = `Sentiment trend over ${values.length} message${values.length === 1 ? "" : "s"}: ` +
      `latest ${last.toFixed(2)} (${sentimentLabel(last)})`;
    const x = (i) => (values.length === 1 ? width / 2 : 3 + (i * (width - 6)) / (values.length - 1));
    const y = (v) => 3 + ((1 - Math.max(-1, Math.min(1, v))) / 2) * (height - 6);
    const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    return svg("svg", { class: "sparkline", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label },
      svg("title", { text: label }),
      svg("line", { x1: 0, x2: width, y1: y(0), y2: y(0), class: "spark-zero" }),
      svg("polyline", { points, class: "spark-line" }),
      svg("circle", { cx: x(values.length - 1), cy: y(last), r: 2.6, class: `spark-dot ${sentimentLabel(last)}` }));
  }

  /* ---------- queue ---------- */

  function queueView(main) {
    let filter = sessionStorage.getItem("cxagent.queue.filter") || "all";
    const errors = errorBox();
    const tbody = el("tbody");
    const summary = el("p", { class: "muted", text: "Loading…" });
    const table = el("table", { class: "table queue-table" },
      el("caption", { class: "sr-only", text: "Escalated conversations, high-value customers first, then by priority, then newest" }),
      el("thead", null, el("tr", null,
        ["Customer", "Reason", "Priority", "Tier", "Sentiment", "Predicted CSAT", "Status", "Waiting since"]
          .map((h) => el("th", { scope: "col", text: h })))),
      tbody);
    const empty = el("div", { class: "empty", hidden: true });
    main.append(
      pageHeader("Queue", "Conversations that need a person. Updates live.",
        segmented("Filter the queue", [
          { value: "all", label: "All" },
          { value: "waiting", label: "Waiting" },
          { value: "mine", label: "Mine" },
          // Every conversation, the bot's too: where wrong intents are found and corrected.
          { value: "everything", label: "All conversations" },
        ], filter, (value) => { filter = value; sessionStorage.setItem("cxagent.queue.filter", value); load(); })),
      errors,
      el("div", { class: "card card-flush" }, table, empty),
      summary);

    let items = [];
    let loading = 0;

    async function load() {
      const ticket = ++loading;
      const query = {
        waiting: "?status=waiting",
        mine: "?mine=true",
        everything: "?status=bot&status=waiting&status=with_agent&status=closed&limit=200",
      }[filter] || "";
      try {
        const data = await api("GET", `/api/staff/queue${query}`);
        if (ticket !== loading) return; // a newer load overtook this one
        items = data;
        errors.clear();
        render();
      } catch (err) {
        if (ticket === loading && err.status !== 401) errors.show(err.message);
      }
    }

    function open(id) { location.hash = `#/conversations/${encodeURIComponent(id)}`; }

    function render() {
      tbody.replaceChildren(...items.map(row));
      table.hidden = items.length === 0;
      empty.hidden = items.length !== 0;
      empty.replaceChildren(
        el("div", { class: "empty-icon", "aria-hidden": "true", text: "✓" }),
        el("h2", { text: filter === "mine" ? "Nothing assigned to you"
          : filter === "everything" ? "No conversations yet" : "The queue is clear" }),
        el("p", { class: "muted", text: filter === "mine"
          ? "Conversations you take over show up here."
          : "No customer is waiting for a person right now. New escalations appear here as they happen." }));
      const waiting = items.filter((i) => i.status === "waiting").length;
      summary.textContent = items.length
        ? `${items.length} conversation${items.length === 1 ? "" : "s"} · ${waiting} waiting`
        : "";
    }

    function row(item) {
      const name = item.customer_name || `Customer #${item.customer_id}`;
      const link = el("a", { href: `#/conversations/${encodeURIComponent(item.conversation_id)}`, class: "row-link" }, name);
      const statusCell = item.status === "with_agent"
        ? el("span", { class: "status status-with_agent" }, el("span", { class: "dot", "aria-hidden": "true" }),
          "with ", el("strong", { text: item.assigned_to || "agent" }))
        : el("span", { class: `status status-${item.status}` }, el("span", { class: "dot", "aria-hidden": "true" }),
          STATUS_LABELS[item.status] || item.status);
      const sat = item.predicted_satisfaction;
      const tr = el("tr", {
        testid: "queue-row",
        class: `queue-row${item.high_value ? " is-high-value" : ""}`,
        dataset: { conversationId: item.conversation_id },
        onclick: (event) => { if (!event.target.closest("a")) open(item.conversation_id); },
      },
      el("td", null, el("div", { class: "cust" },
        el("span", { class: "avatar avatar-sm", "aria-hidden": "true", text: initials(item.customer_name || "#") }),
        el("div", null, link, item.queue ? el("div", { class: "muted small", text: `${item.queue} queue` }) : null))),
      el("td", { testid: "queue-reason", class: "reason", text: item.reason || "—" }),
      el("td", null, el("span", { class: `prio prio-${item.priority}`, text: priorityLabel(item.priority) })),
      el("td", null, el("div", { class: "badges" },
        item.tier ? badge(item.tier, "tier") : el("span", { class: "muted", text: "—" }),
        item.high_value ? badge("high value", "gold") : null)),
      el("td", null, sparkline(item.sentiment_trend)),
      el("td", null, el("span", {
        class: `score score-${satisfactionClass(sat)}`,
        title: "Predicted satisfaction, 1 (very unhappy) to 5 (very happy)",
      }, sat.toFixed(1), el("span", { class: "score-of", text: " / 5" }))),
      el("td", { testid: "queue-status" }, statusCell),
      el("td", null, el("time", {
        datetime: item.waiting_since || "",
        title: fmtDateTime(item.waiting_since),
        dataset: { rel: item.waiting_since || "" },
        text: relTime(item.waiting_since),
      })));
      return tr;
    }

    const reload = debounce(load, 300);
    // Relative times drift; refresh them without a round trip.
    const clock = setInterval(() => {
      for (const t of tbody.querySelectorAll("time[data-rel]")) t.textContent = relTime(t.dataset.rel);
    }, 30000);
    load();
    return {
      name: "queue",
      onLive: () => reload(),
      dispose: () => { reload.cancel(); clearInterval(clock); loading += 1; },
    };
  }

  /* ---------- conversation ---------- */

  function conversationView(main, id) {
    const errors = errorBox();
    const head = el("div", { class: "conv-head" });
    const actions = el("div", { class: "conv-actions" });
    const transcript = el("ol", { class: "transcript", "aria-label": "Transcript", tabindex: "0" });
    const replyError = errorBox();
    const replyInput = el("textarea", {
      testid: "reply-input", id: "reply-input", rows: "3",
      placeholder: "Write a reply… (Enter to send, Shift+Enter for a new line)",
      "aria-label": "Reply to the customer",
    });
    const sendButton = el("button", { type: "submit", class: "btn btn-primary", testid: "reply-send" }, "Send");
    const replyForm = el("form", { class: "reply", hidden: true },
      replyInput, el("div", { class: "reply-bar" }, el("span", { class: "muted small", text: "The customer sees your name." }), sendButton));
    const banner = el("div", { class: "conv-banner", hidden: true });
    const customerTyping = el("p", {
      class: "customer-typing muted small", testid: "customer-typing", role: "status", hidden: true,
      text: "The customer is typing…",
    });
    let customerTypingTimer = null;
    // Focusable: it scrolls on its own, and keyboard users must be able to scroll it.
    const side = el("aside", { class: "conv-side", "aria-label": "Customer", tabindex: "0" });
    const intentsList = el("datalist", { id: "known-intents" });

    main.append(
      el("div", { class: "crumbs" }, el("a", { href: "#/queue", text: "← Queue" })),
      errors,
      el("div", { class: "conv-layout" },
        el("section", { class: "conv-main card card-flush", "aria-label": "Conversation" },
          head, transcript, customerTyping, banner, replyError, replyForm),
        side),
      intentsList);

    let detail = null;
    let editing = null; // { messageId, value, focused } survives live reloads
    let lastTyping = 0;
    let loading = 0;
    let seenIds = new Set();

    async function load() {
      const ticket = ++loading;
      try {
        const data = await api("GET", `/api/staff/conversations/${encodeURIComponent(id)}`);
        if (ticket !== loading) return;
        detail = data;
        errors.clear();
        render();
      } catch (err) {
        if (ticket !== loading || err.status === 401) return;
        if (!detail) {
          head.replaceChildren(el("h1", { text: err.status === 404 ? "Conversation not found" : "Could not load the conversation" }));
        }
        errors.show(err.message);
      }
    }

    async function loadIntents() {
      if (state.intents) return fill();
      try {
        const list = await api("GET", "/api/staff/intents");
        state.intents = Array.isArray(list) ? list : [];
      } catch { state.intents = null; /* free text still works */ }
      fill();
      function fill() {
        intentsList.replaceChildren(...(state.intents || []).map((i) => el("option", { value: i })));
      }
    }

    async function act(button, method, path, body) {
      errors.clear();
      button.disabled = true;
      try {
        await api(method, path, body);
        await load();
        return true;
      } catch (err) {
        if (err.status !== 401) errors.show(err.message);
        return false;
      } finally {
        button.disabled = false;
      }
    }

    function render() {
      const c = detail;
      const name = c.customer.name || `Customer #${c.customer.id}`;
      const base = `/api/staff/conversations/${encodeURIComponent(c.conversation_id)}`;

      // Header with status and the actions this status allows.
      const buttons = [];
      if (c.status === "bot" || c.status === "waiting") {
        buttons.push(el("button", {
          type: "button", class: "btn btn-primary", testid: "take",
          onclick: async (e) => { if (await act(e.currentTarget, "POST", `${base}/take`)) replyInput.focus(); },
        }, "Take over"));
      }
      if (c.status === "with_agent") {
        buttons.push(el("button", {
          type: "button", class: "btn", testid: "hand-back",
          onclick: (e) => act(e.currentTarget, "POST", `${base}/hand-back`),
        }, "Hand back to bot"));
      }
      if (c.status !== "closed") {
        buttons.push(el("button", {
          type: "button", class: "btn btn-danger-ghost", testid: "close",
          onclick: (e) => act(e.currentTarget, "POST", `${base}/close`),
        }, "Close"));
      }
      actions.replaceChildren(...buttons);
      const statusText = c.status === "with_agent" ? `with ${c.assigned_to || "agent"}` : STATUS_LABELS[c.status] || c.status;
      head.replaceChildren(
        el("div", { class: "conv-title" },
          el("span", { class: "avatar", "aria-hidden": "true", text: initials(c.customer.name || "#") }),
          el("div", null,
            el("h1", { text: name }),
            el("div", { class: "meta" },
              el("span", { class: `status status-${c.status}`, testid: "conversation-status", dataset: { status: c.status } },
                el("span", { class: "dot", "aria-hidden": "true" }), statusText),
              el("span", { text: `via ${c.channel}` }),
              el("span", { title: fmtDateTime(c.started_at), text: `started ${relTime(c.started_at)}` }),
              c.queue ? el("span", { text: `${c.queue} queue · ${priorityLabel(c.priority)} priority` }) : null,
              el("span", { class: `score score-${satisfactionClass(c.predicted_satisfaction)}`, title: "Predicted satisfaction, 1 to 5" },
                `predicted ${c.predicted_satisfaction.toFixed(1)}`, el("span", { class: "score-of", text: " / 5" }))))),
        actions);

      // The reply box stays the same element across reloads so a draft and focus survive.
      const canReply = c.status === "with_agent";
      replyForm.hidden = !canReply;
      banner.hidden = canReply;
      banner.textContent = {
        bot: "The bot is answering. Take over to reply yourself.",
        waiting: "The customer is waiting for a person. Take over to reply.",
        closed: "This conversation is closed. It reopens with the bot if the customer writes again.",
      }[c.status] || "";

      // After the reply box is shown or hidden: it changes the transcript's height.
      renderTranscript();

      renderSide();
    }

    function renderTranscript() {
      const nearBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
      const scrollTop = transcript.scrollTop;
      const grew = detail.messages.some((m) => !seenIds.has(m.id));
      const focusedEditor = editing && document.activeElement && document.activeElement.dataset.testid === "correct-intent-input";
      if (editing) editing.focused = Boolean(focusedEditor);
      if (detail.messages.length === 0) {
        transcript.replaceChildren(el("li", { class: "empty small", text: "No messages yet." }));
      } else {
        let lastDay = null;
        const nodes = [];
        for (const m of detail.messages) {
          const day = new Date(m.created_at).toDateString();
          if (day !== lastDay) {
            nodes.push(el("li", { class: "day-sep", "aria-hidden": "true" }, el("span", { text: new Intl.DateTimeFormat(undefined, { dateStyle: "medium" }).format(new Date(m.created_at)) })));
            lastDay = day;
          }
          nodes.push(messageNode(m));
        }
        transcript.replaceChildren(...nodes);
      }
      seenIds = new Set(detail.messages.map((m) => m.id));
      // Follow new messages, unless the agent scrolled up to read something.
      transcript.scrollTop = grew || nearBottom ? transcript.scrollHeight : scrollTop;
      if (editing && editing.focused) {
        const input = transcript.querySelector('[data-testid="correct-intent-input"]');
        if (input) input.focus();
      }
    }

    function messageNode(m) {
      const who = m.role === "customer" ? (detail.customer.name || "Customer") : m.role === "bot" ? "Bot" : (m.author || "Agent");
      const badges = el("div", { class: "msg-badges" });
      if (m.role === "customer") {
        const corrected = Boolean(m.corrected_intent);
        const intent = m.corrected_intent || m.intent;
        append(badges, [
          intent
            ? badge(corrected ? `${intent} · corrected` : intent, corrected ? "corrected" : "intent", {
              testid: "message-intent",
              title: corrected ? `Corrected by staff; the model said ${m.intent || "nothing"}` : "Intent the model read",
              dataset: { intent },
            })
            : badge("no intent", "muted", { testid: "message-intent" }),
          m.intent_confidence !== null && m.intent_confidence !== undefined
            ? badge(`${Math.round(m.intent_confidence * 100)}%`, "plain", { title: "Intent confidence" }) : null,
          m.out_of_scope ? badge("out of scope", "warn", { title: "The bot judged this outside what it can answer" }) : null,
          m.sentiment ? badge(
            `${m.sentiment}${m.sentiment_score !== null && m.sentiment_score !== undefined ? ` ${m.sentiment_score >= 0 ? "+" : ""}${m.sentiment_score.toFixed(2)}` : ""}`,
            `sent-${m.sentiment}`, { title: "Sentiment, -1 to +1" }) : null,
          editing && editing.messageId === m.id ? null : el("button", {
            type: "button", class: "link-btn", testid: "correct-intent",
            "aria-label": `Correct the intent of this message`,
            onclick: () => { editing = { messageId: m.id, value: m.corrected_intent || m.intent || "", focused: true }; loadIntents(); renderTranscript(); },
          }, "correct")]);
      } else if (m.role === "bot") {
        const reason = m.decision_reason || "";
        if (m.decision) badges.append(badge(m.decision.replace(/_/g, " "), "decision", { title: reason || "Why: not recorded", tabindex: reason ? "0" : null, "aria-label": reason ? `Decision ${m.decision}: ${reason}` : null }));
        if (m.entry_id) badges.append(badge(m.entry_id, "entry", { title: m.score !== null && m.score !== undefined ? `Knowledge entry, match score ${m.score.toFixed(2)}` : "Knowledge entry" }));
      }
      const li = el("li", {
        class: `msg msg-${m.role}`,
        testid: "message",
        dataset: { role: m.role, id: String(m.id) },
      },
      el("div", { class: "msg-meta" },
        el("span", { class: "msg-who", text: who }),
        el("time", { datetime: m.created_at, title: fmtDateTime(m.created_at), text: timeFmt.format(new Date(m.created_at)) })),
      el("div", { class: "bubble", text: m.text }),
      badges.childElementCount ? badges : null,
      editing && editing.messageId === m.id ? correctionForm(m) : null);
      return li;
    }

    function correctionForm(m) {
      const inputId = `correct-${m.id}`;
      const input = el("input", {
        id: inputId, testid: "correct-intent-input", list: "known-intents", value: editing.value,
        autocomplete: "off", spellcheck: "false", required: true,
        oninput: (e) => { editing.value = e.target.value; },
      });
      const error = el("span", { class: "form-error small", role: "alert", hidden: true });
      const save = el("button", { type: "submit", class: "btn btn-primary btn-sm", testid: "correct-intent-save" }, "Save");
      return el("form", {
        class: "correct-form",
        onkeydown: (e) => { if (e.key === "Escape") { editing = null; renderTranscript(); } },
        onsubmit: async (e) => {
          e.preventDefault();
          const intent = input.value.trim();
          if (!intent) { error.textContent = "Pick an intent."; error.hidden = false; return; }
          save.disabled = true;
          try {
            await api("PUT", `/api/staff/messages/${m.id}/intent`, { intent });
            editing = null;
            await load();
          } catch (err) {
            if (err.status !== 401) { error.textContent = err.message; error.hidden = false; }
          } finally {
            save.disabled = false;
          }
        },
      },
      el("label", { for: inputId, class: "small", text: "Correct intent" }),
      input, save,
      el("button", { type: "button", class: "btn btn-sm", onclick: () => { editing = null; renderTranscript(); } }, "Cancel"),
      error);
    }

    function fact(label, value) {
      return [el("dt", { text: label }), el("dd", null, value === null || value === undefined || value === "" ? el("span", { class: "muted", text: "—" }) : value)];
    }

    function chips(list, empty = "—") {
      if (!list || list.length === 0) return el("span", { class: "muted", text: empty });
      return el("div", { class: "chips" }, list.map((x) => el("span", { class: "chip", text: String(x) })));
    }

    function renderSide() {
      const p = detail.customer;
      const tier = p.attributes && p.attributes.tier;
      const tendency = p.sentiment_tendency;
      const profile = el("section", { class: "card profile", testid: "profile", "aria-labelledby": "profile-title" },
        el("div", { class: "profile-head" },
          el("span", { class: "avatar avatar-lg", "aria-hidden": "true", text: initials(p.name || "#") }),
          el("div", null,
            el("h2", { id: "profile-title", text: p.name || `Customer #${p.id}` }),
            el("div", { class: "badges" },
              tier !== undefined && tier !== null ? badge(String(tier), "tier") : null,
              p.segment ? badge(p.segment, "plain") : null,
              p.lifecycle_stage ? badge(p.lifecycle_stage, "plain") : null))),
        el("dl", { class: "facts" },
          fact("External id", p.external_id),
          fact("Email", p.email),
          fact("Tier", tier !== undefined && tier !== null ? String(tier) : null),
          fact("Segment", p.segment),
          fact("Lifecycle", p.lifecycle_stage),
          fact("Churn risk", p.churn_risk === null ? null : el("span", { class: p.churn_risk >= 0.5 ? "text-bad" : "", text: pct(p.churn_risk) })),
          fact("Lifetime value", p.lifetime_value === null ? null : moneyFmt.format(p.lifetime_value)),
          fact("Conversations", String(p.conversation_count)),
          fact("Messages", String(p.message_count)),
          fact("Sentiment", tendency === null ? null : el("span", { class: `sent-text sent-${sentimentLabel(tendency)}`, text: `${sentimentLabel(tendency)} (${tendency >= 0 ? "+" : ""}${tendency.toFixed(2)})` })),
          fact("CSAT history", p.csat_history.length ? el("div", { class: "csat-hist", "aria-label": `CSAT answers, oldest first: ${p.csat_history.join(", ")}` },
            p.csat_history.map((v) => el("span", { class: `csat-dot score-${satisfactionClass(v)}`, text: String(v), "aria-hidden": "true" }))) : null),
          fact("Channels", p.channels.length ? chips(p.channels) : null),
          fact("First seen", el("span", { title: fmtDateTime(p.first_seen_at), text: relTime(p.first_seen_at) })),
          fact("Top intents", p.top_intents.length ? chips(p.top_intents) : null)));

      const escalations = el("section", { class: "card", "aria-labelledby": "esc-title" },
        el("h2", { id: "esc-title", text: "Escalations" }),
        detail.escalations.length === 0
          ? el("p", { class: "muted small", text: "Never escalated." })
          : el("ol", { class: "escalations" }, detail.escalations.slice().reverse().map((e) =>
            el("li", { class: "esc" },
              el("div", { class: "esc-top" },
                el("strong", { text: e.reason }),
                el("span", { class: `prio prio-${e.priority}`, text: priorityLabel(e.priority) })),
              el("div", { class: "muted small" }, `${e.queue} queue · `, el("time", { datetime: e.created_at, title: fmtDateTime(e.created_at), text: relTime(e.created_at) })),
              e.rules && e.rules.length ? el("ul", { class: "rules" }, e.rules.map((r) =>
                el("li", null, el("code", { text: r.rule || "rule" }), r.why ? el("span", { class: "muted", text: ` — ${r.why}` }) : null))) : null))));
      side.replaceChildren(profile, escalations);
    }

    async function send() {
      const text = replyInput.value.trim();
      if (!text) return;
      replyError.clear();
      sendButton.disabled = true;
      try {
        await api("POST", `/api/staff/conversations/${encodeURIComponent(id)}/messages`, { text });
        replyInput.value = "";
        lastTyping = 0;
        await load();
      } catch (err) {
        if (err.status !== 401) replyError.show(err.message);
      } finally {
        sendButton.disabled = false;
        replyInput.focus();
      }
    }

    replyForm.addEventListener("submit", (e) => { e.preventDefault(); send(); });
    replyInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
    });
    replyInput.addEventListener("input", () => {
      // Tell the customer someone is typing, at most every few seconds; best effort only.
      const now = Date.now();
      if (!replyInput.value.trim() || now - lastTyping < TYPING_EVERY_MS) return;
      lastTyping = now;
      fetch(`/api/staff/conversations/${encodeURIComponent(id)}/typing`, {
        method: "POST", headers: { Authorization: `Bearer ${state.token}` },
      }).catch(() => {});
    });

    const reload = debounce(load, 300);
    load();
    return {
      name: "conversation",
      onLive: (frame) => {
        if (!frame || frame.conversation_id === id) {
          customerTyping.hidden = true; // whatever they were writing has arrived
          reload();
        }
      },
      // The customer's widget says so every few seconds while they write; a pause hides it.
      onTyping: (frame) => {
        if (frame.conversation_id !== id) return;
        customerTyping.hidden = false;
        clearTimeout(customerTypingTimer);
        customerTypingTimer = setTimeout(() => { customerTyping.hidden = true; }, 6000);
      },
      dispose: () => { reload.cancel(); clearTimeout(customerTypingTimer); loading += 1; },
    };
  }

  /* ---------- charts (inline SVG) ---------- */

  const chartColors = { csat: "#2f6fed", nps: "#8b5cf6", ces: "#0f9d8a", resolved: "#2f6fed", negative: "#e5484d", neutral: "#b8bfca", positive: "#30a46c" };

  function niceTicks(min, max, count = 4) {
    const span = max - min || 1;
    const step = [1, 2, 2.5, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(span / count)))
      .find((s) => span / s <= count) || span / count;
    const ticks = [];
    for (let v = Math.ceil(min / step) * step; v <= max + 1e-9; v += step) ticks.push(+v.toFixed(6));
    return ticks;
  }

  // Which day labels to print so they never overlap.
  function labelEvery(n, width) { return Math.max(1, Math.ceil(n / Math.max(1, Math.floor(width / 56)))); }

  function chartShell(label, width, height) {
    return svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, preserveAspectRatio: "xMidYMid meet" },
      svg("title", { text: label }));
  }

  /* lineChart({days, series:[{name, color, values:[number|null]}], min, max, format, label}) */
  function lineChart({ days, series, min, max, format = (v) => String(v), tickFormat = format, label, height = 180, width = 520 }) {
    const pad = { l: 40, r: 12, t: 10, b: 24 };
    const w = width - pad.l - pad.r;
    const h = height - pad.t - pad.b;
    const root = chartShell(label, width, height);
    const x = (i) => pad.l + (days.length === 1 ? w / 2 : (i * w) / (days.length - 1));
    const y = (v) => pad.t + h - ((v - min) / (max - min || 1)) * h;
    for (const t of niceTicks(min, max)) {
      root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: y(t), y2: y(t), class: t === 0 && min < 0 ? "axis" : "grid" }),
        svg("text", { x: pad.l - 6, y: y(t) + 4, class: "tick", "text-anchor": "end", text: tickFormat(t) }));
    }
    root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: pad.t + h, y2: pad.t + h, class: "axis" }));
    const every = labelEvery(days.length, w);
    days.forEach((d, i) => {
      if (i % every === 0 || i === days.length - 1 && days.length < 3) {
        root.append(svg("text", { x: x(i), y: height - 6, class: "tick", "text-anchor": "middle", text: fmtDay(d) }));
      }
    });
    for (const s of series) {
      // Days without data are not zeros: a faint dashed line bridges them, the solid line does not.
      const known = s.values.map((v, i) => [v, i]).filter(([v]) => v !== null && v !== undefined);
      if (known.length > 1) {
        root.append(svg("path", { d: known.map(([v, i], k) => `${k ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(""), class: "line-gap", stroke: s.color }));
      }
      let path = "";
      let pen = false;
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) { pen = false; return; }
        path += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true;
      });
      if (path) root.append(svg("path", { d: path, class: "line", stroke: s.color }));
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        root.append(svg("circle", { cx: x(i), cy: y(v), r: 3, fill: s.color, class: "pt" },
          svg("title", { text: `${fmtDay(days[i])}: ${s.name} ${format(v)}` })));
      });
    }
    return root;
  }

  /* hBarChart({items:[{label, value}], label, format}) */
  function hBarChart({ items, label, format = (v) => String(v), color = "#2f6fed" }) {
    const width = 520;
    const row = 28;
    const labelW = 230;
    const height = items.length * row + 8;
    const root = chartShell(label, width, height);
    const max = Math.max(1, ...items.map((i) => i.value));
    const w = width - labelW - 56;
    items.forEach((item, i) => {
      const top = 4 + i * row;
      const text = item.label.length > 32 ? `${item.label.slice(0, 31)}…` : item.label;
      const bw = Math.max(2, (item.value / max) * w);
      root.append(
        svg("text", { x: labelW - 10, y: top + row / 2 + 4, class: "bar-label", "text-anchor": "end", text }, svg("title", { text: item.label })),
        svg("rect", { x: labelW, y: top + 5, width: w, height: row - 10, rx: 4, class: "bar-track" }),
        svg("rect", { x: labelW, y: top + 5, width: bw, height: row - 10, rx: 4, fill: color },
          svg("title", { text: `${item.label}: ${format(item.value)}` })),
        svg("text", { x: labelW + bw + 8, y: top + row / 2 + 4, class: "bar-value", text: format(item.value) }));
    });
    return root;
  }

  /* stackedBars({days, keys:[{key, name, color}], rows:[{...}], label}) */
  function stackedBars({ days, keys, rows, label, height = 190 }) {
    const width = 520;
    const pad = { l: 40, r: 12, t: 10, b: 24 };
    const w = width - pad.l - pad.r;
    const h = height - pad.t - pad.b;
    const root = chartShell(label, width, height);
    const totals = rows.map((r) => keys.reduce((s, k) => s + (r[k.key] || 0), 0));
    const max = Math.max(1, ...totals);
    let ticks = niceTicks(0, max, 4);
    const step = ticks.length > 1 ? ticks[1] - ticks[0] : max;
    // Round the axis up so the tallest bar stays under the top grid line.
    if (ticks[ticks.length - 1] < max) ticks = [...ticks, +(ticks[ticks.length - 1] + step).toFixed(6)];
    const top = ticks[ticks.length - 1];
    const y = (v) => pad.t + h - (v / top) * h;
    for (const t of ticks) {
      root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: y(t), y2: y(t), class: "grid" }),
        svg("text", { x: pad.l - 6, y: y(t) + 4, class: "tick", "text-anchor": "end", text: String(t) }));
    }
    const slot = w / Math.max(1, days.length);
    const bw = Math.max(3, Math.min(28, slot * 0.7));
    const every = labelEvery(days.length, w);
    rows.forEach((r, i) => {
      let acc = 0;
      const cx = pad.l + slot * i + slot / 2;
      for (const k of keys) {
        const v = r[k.key] || 0;
        if (!v) continue;
        root.append(svg("rect", { x: cx - bw / 2, y: y(acc + v), width: bw, height: Math.max(0.5, y(acc) - y(acc + v)), fill: k.color },
          svg("title", { text: `${fmtDay(days[i])}: ${v} ${k.name}` })));
        acc += v;
      }
      if (i % every === 0) root.append(svg("text", { x: cx, y: height - 6, class: "tick", "text-anchor": "middle", text: fmtDay(days[i]) }));
    });
    root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: pad.t + h, y2: pad.t + h, class: "axis" }));
    return root;
  }

  function legend(items) {
    return el("ul", { class: "legend", "aria-hidden": "true" },
      items.map((i) => el("li", null, el("span", { class: "swatch", style: `background:${i.color}` }), i.name)));
  }

  function chartCard(name, title, subtitle, body, extraClass = "") {
    return el("section", { class: `card chart-card ${extraClass}`, testid: `chart-${name}`, "aria-labelledby": `chart-${name}-title` },
      el("div", { class: "card-head" },
        el("h2", { id: `chart-${name}-title`, text: title }),
        subtitle ? el("span", { class: "muted small", text: subtitle }) : null),
      body);
  }

  function emptyChart(text) { return el("div", { class: "chart-empty", text }); }

  /* ---------- dashboard ---------- */

  function dashboardView(main) {
    let days = Number(sessionStorage.getItem("cxagent.dashboard.days")) || 30;
    const errors = errorBox();
    const body = el("div", { class: "dash", "aria-busy": "true" }, el("p", { class: "muted", text: "Loading…" }));
    const range = el("p", { class: "muted small" });
    main.append(
      pageHeader("Dashboard", null,
        range,
        segmented("Period", [7, 30, 90].map((d) => ({ value: d, label: `${d} days` })), days,
          (value) => { days = value; sessionStorage.setItem("cxagent.dashboard.days", String(value)); load(); })),
      errors, body);

    let loading = 0;
    async function load() {
      const ticket = ++loading;
      body.setAttribute("aria-busy", "true");
      try {
        const data = await api("GET", `/api/staff/dashboard?days=${days}`);
        if (ticket !== loading) return;
        errors.clear();
        render(data);
      } catch (err) {
        if (ticket === loading && err.status !== 401) {
          errors.show(err.status === 404 ? "The dashboard is not available on this server yet." : err.message);
          body.replaceChildren();
        }
      } finally {
        if (ticket === loading) body.setAttribute("aria-busy", "false");
      }
    }

    function kpi(name, label, value, hint, tone) {
      return el("div", { class: `kpi${tone ? ` kpi-${tone}` : ""}`, testid: `kpi-${name}` },
        el("div", { class: "kpi-label", text: label }),
        el("div", { class: "kpi-value", testid: "kpi-value", text: value }),
        el("div", { class: "kpi-hint muted small", text: hint }));
    }

    // The server lists only days with data; fill the gaps so time axes are continuous and a
    // quiet day shows as a gap, not as a missing tick.
    function dayRange(since, until) {
      const out = [];
      const end = new Date(until);
      const cur = new Date(since);
      cur.setUTCHours(0, 0, 0, 0);
      for (let i = 0; cur <= end && i < 400; i += 1) {
        out.push(cur.toISOString().slice(0, 10));
        cur.setUTCDate(cur.getUTCDate() + 1);
      }
      return out;
    }

    function fill(allDays, rows, blank) {
      const byDay = new Map((rows || []).map((r) => [r.day, r]));
      return allDays.map((day) => byDay.get(day) || { day, ...blank });
    }

    function render(d) {
      const allDays = dayRange(d.since, d.until);
      range.textContent = `${fmtDate(d.since)} – ${fmtDate(d.until)}`;
      const sat = fill(allDays, d.satisfaction, { responses: 0, csat: null, nps: null, ces: null });
      const { csat, nps, ces } = d.satisfaction_overall;
      const share = d.resolution ? d.resolution.share : null;
      const t = d.totals || {};

      const kpis = el("div", { class: "kpis" },
        kpi("conversations", "Conversations", String(t.conversations ?? 0), `${t.messages ?? 0} messages · ${t.escalations ?? 0} escalations`),
        kpi("resolved", "Resolved by the bot", pct(share), d.resolution ? `${d.resolution.without_person} of ${d.resolution.conversations} without a person` : "", share === null ? null : share >= 0.7 ? "good" : share >= 0.4 ? "ok" : "bad"),
        kpi("csat", "CSAT", csat === null ? "—" : `${Math.round(csat)}%`, "answers of 4 or 5", csat === null ? null : csat >= 80 ? "good" : csat >= 60 ? "ok" : "bad"),
        kpi("nps", "NPS", nps === null ? "—" : `${nps > 0 ? "+" : ""}${Math.round(nps)}`, "promoters − detractors", nps === null ? null : nps >= 30 ? "good" : nps >= 0 ? "ok" : "bad"),
        kpi("ces", "CES", ces === null ? "—" : ces.toFixed(1), "1 hard – 7 easy", ces === null ? null : ces >= 5 ? "good" : ces >= 4 ? "ok" : "bad"),
        kpi("surveys", "Surveys", String(t.surveys ?? 0), "answered"));

      // Satisfaction: three small line charts, since CSAT, NPS and CES have different scales.
      const satDays = sat.map((r) => r.day);
      const answered = sat.some((r) => r.responses > 0);
      const satBody = !answered ? emptyChart("No surveys yet") : el("div", { class: "multiples" },
        [
          { key: "csat", name: "CSAT %", min: 0, max: 100, format: (v) => `${Math.round(v)}%` },
          { key: "nps", name: "NPS", min: -100, max: 100, format: (v) => `${Math.round(v)}` },
          { key: "ces", name: "CES", min: 1, max: 7, format: (v) => v.toFixed(1), tickFormat: (v) => String(v) },
        ].map((m) => {
          const values = sat.map((r) => r[m.key]);
          const known = values.filter((v) => v !== null && v !== undefined);
          const summaryText = known.length
            ? `${m.name} by day over ${satDays.length} days: from ${m.format(known[0])} to ${m.format(known[known.length - 1])}`
            : `${m.name}: no answers in this period`;
          return el("figure", { class: "multiple" },
            el("figcaption", { text: m.name }),
            known.length ? lineChart({ days: satDays, series: [{ name: m.name, color: chartColors[m.key], values }], min: m.min, max: m.max, format: m.format, tickFormat: m.tickFormat || m.format, label: summaryText, height: 170, width: 380 })
              : emptyChart(`No ${m.name} answers`));
        }));

      const res = fill(allDays, d.resolution_by_day, { conversations: 0, without_person: 0 });
      const resShares = res.map((r) => (r.conversations ? (r.without_person / r.conversations) * 100 : null));
      const resKnown = resShares.filter((v) => v !== null);
      const resBody = resKnown.length === 0 ? emptyChart("No conversations yet") : lineChart({
        days: res.map((r) => r.day),
        series: [{ name: "resolved without a person", color: chartColors.resolved, values: resShares }],
        min: 0, max: 100, format: (v) => `${Math.round(v)}%`,
        label: `Share of conversations resolved without a person, by day: overall ${pct(share)}, latest day ${Math.round(resKnown[resKnown.length - 1])}%`,
      });

      const esc = d.escalations_by_reason || [];
      const escBody = esc.length === 0 ? emptyChart("No escalations in this period") : hBarChart({
        items: esc.map((e) => ({ label: e.reason, value: e.count })),
        color: "#e5484d",
        label: `Escalations by reason: ${esc.map((e) => `${e.reason} ${e.count}`).join(", ")}`,
      });

      const sent = fill(allDays, d.sentiment, { negative: 0, neutral: 0, positive: 0, mean_score: null });
      const sentTotals = sent.reduce((a, r) => ({ negative: a.negative + r.negative, neutral: a.neutral + r.neutral, positive: a.positive + r.positive }), { negative: 0, neutral: 0, positive: 0 });
      const sentAll = sentTotals.negative + sentTotals.neutral + sentTotals.positive;
      const sentKeys = [
        { key: "negative", name: "negative", color: chartColors.negative },
        { key: "neutral", name: "neutral", color: chartColors.neutral },
        { key: "positive", name: "positive", color: chartColors.positive },
      ];
      const sentBody = sentAll === 0 ? emptyChart("No customer messages yet") : el("div", null,
        stackedBars({
          days: sent.map((r) => r.day), keys: sentKeys, rows: sent,
          label: `Customer messages by sentiment per day: ${sentTotals.negative} negative, ${sentTotals.neutral} neutral, ${sentTotals.positive} positive in total`,
        }),
        legend(sentKeys));

      const intents = d.top_intents || [];
      const intentBody = intents.length === 0 ? emptyChart("No intents recognised yet") : hBarChart({
        items: intents.map((i) => ({ label: i.intent, value: i.count })),
        label: `Top intents: ${intents.map((i) => `${i.intent} ${i.count}`).join(", ")}`,
      });

      const unanswered = d.unanswered || [];
      const table = el("section", { class: "card card-flush wide", "aria-labelledby": "unanswered-title" },
        el("div", { class: "card-head padded" },
          el("h2", { id: "unanswered-title", text: "Questions the bot could not answer" }),
          el("span", { class: "muted small", text: "candidates for new knowledge entries" })),
        el("table", { class: "table", testid: "unanswered" },
          el("thead", null, el("tr", null, el("th", { scope: "col", text: "Question" }), el("th", { scope: "col", class: "num", text: "Times asked" }), el("th", { scope: "col", text: "Last asked" }))),
          el("tbody", null, unanswered.length === 0
            ? el("tr", null, el("td", { colspan: "3", class: "muted empty-cell", text: "Nothing unanswered in this period." }))
            : unanswered.map((u) => el("tr", null,
              el("td", { class: "question", text: u.text }),
              el("td", { class: "num", text: String(u.count) }),
              el("td", null, el("time", { datetime: u.last_at, title: fmtDateTime(u.last_at), text: relTime(u.last_at) })))))));

      body.replaceChildren(
        kpis,
        el("div", { class: "grid-2" },
          chartCard("satisfaction", "Satisfaction over time", "CSAT · NPS · CES by day", satBody, "wide"),
          chartCard("resolution", "Resolved without a person", "share of conversations by day", resBody),
          chartCard("escalations", "Escalations by reason", `${t.escalations ?? 0} in total`, escBody),
          chartCard("sentiment", "Sentiment over time", "customer messages per day", sentBody),
          chartCard("intents", "Top intents", "what customers ask about", intentBody),
          table));
    }

    load();
    return { name: "dashboard", dispose: () => { loading += 1; } };
  }

  /* ---------- staff accounts (admins) ---------- */

  // "Set password": an inline field that PATCHes the account's password.
  function passwordSetter(account, after) {
    const wrap = el("span", { class: "password-setter" });
    const note = el("span", { class: "small muted", role: "status" });
    const open = el("button", {
      type: "button", class: "btn btn-sm", testid: "staff-set-password",
      "aria-label": `Set a new password for ${account.username}`,
      onclick: () => {
        const input = el("input", {
          type: "password", testid: "staff-new-password", autocomplete: "new-password",
          "aria-label": `New password for ${account.username}`, placeholder: "new password",
        });
        const save = el("button", {
          type: "submit", class: "btn btn-sm btn-primary", testid: "staff-password-save",
        }, "Save");
        const cancel = el("button", { type: "button", class: "btn btn-sm", onclick: () => wrap.replaceChildren(open, note) }, "Cancel");
        const form = el("form", { class: "inline-form" }, input, save, cancel);
        form.addEventListener("submit", async (e) => {
          e.preventDefault();
          save.disabled = true;
          try {
            await api("PATCH", `/api/staff/accounts/${account.id}`, { password: input.value });
            note.textContent = "Password set.";
            wrap.replaceChildren(open, note);
            if (after) await after();
          } catch (err) {
            if (err.status !== 401) { note.textContent = err.message; wrap.replaceChildren(form, note); }
            save.disabled = false;
          }
        });
        wrap.replaceChildren(form, note);
        input.focus();
      },
    }, "Set password");
    wrap.append(open, note);
    return wrap;
  }

  function staffView(main) {
    if (!state.staff || state.staff.role !== "admin") {
      // Agents may still change their own password.
      main.append(pageHeader("Staff", null), el("div", { class: "card empty" },
        el("h2", { text: "Admins only" }), el("p", { class: "muted", text: "Ask an admin to add or change accounts." }),
        passwordSetter(state.staff, null)));
      return { name: "staff" };
    }
    const errors = errorBox();
    const tbody = el("tbody");
    const formError = el("p", { class: "form-error", role: "alert", hidden: true });
    const formOk = el("p", { class: "form-ok", role: "status", hidden: true });
    const field = (label, input) => el("label", { class: "field" }, el("span", { text: label }), input);
    const username = el("input", { testid: "staff-username", name: "username", required: true, autocomplete: "off", maxlength: "64" });
    const name = el("input", { testid: "staff-name", name: "name", autocomplete: "off", maxlength: "200", placeholder: "shown to colleagues and customers" });
    const password = el("input", { testid: "staff-password", name: "password", type: "password", required: true, autocomplete: "new-password" });
    const role = el("select", { testid: "staff-role", name: "role" }, el("option", { value: "agent", text: "Agent" }), el("option", { value: "admin", text: "Admin" }));
    const create = el("button", { type: "submit", class: "btn btn-primary", testid: "staff-create" }, "Create account");
    const form = el("form", { class: "card staff-form", "aria-labelledby": "new-account" },
      el("h2", { id: "new-account", text: "New account" }),
      field("Username", username), field("Name", name), field("Password", password), field("Role", role),
      formError, formOk, create);

    main.append(pageHeader("Staff", "Who can sign in to the console."), errors,
      el("div", { class: "staff-layout" },
        el("div", { class: "card card-flush" }, el("table", { class: "table" },
          el("thead", null, el("tr", null, ["Name", "Username", "Role", "Status"].map((h) => el("th", { scope: "col", text: h })),
            el("th", { scope: "col" }, el("span", { class: "sr-only", text: "Actions" })))),
          tbody)),
        form));

    async function load() {
      try {
        const accounts = await api("GET", "/api/staff/accounts");
        errors.clear();
        tbody.replaceChildren(...accounts.map(row));
      } catch (err) {
        if (err.status !== 401) errors.show(err.message);
      }
    }

    function row(a) {
      const self = a.id === state.staff.id;
      return el("tr", { testid: "staff-row", dataset: { id: String(a.id), username: a.username, active: String(a.active) }, class: a.active ? "" : "is-inactive" },
        el("td", null, el("div", { class: "cust" }, el("span", { class: "avatar avatar-sm", "aria-hidden": "true", text: initials(a.name) }), el("span", { text: a.name }), self ? badge("you", "plain") : null)),
        el("td", null, el("code", { text: a.username })),
        el("td", null, badge(a.role === "admin" ? "Admin" : "Agent", a.role === "admin" ? "gold" : "tier")),
        el("td", null, el("span", { class: `status ${a.active ? "status-active" : "status-closed"}` }, el("span", { class: "dot", "aria-hidden": "true" }), a.active ? "active" : "inactive")),
        el("td", { class: "num" }, passwordSetter(a, null), self ? null : el("button", {
          type: "button", class: a.active ? "btn btn-sm btn-danger-ghost" : "btn btn-sm",
          testid: "staff-toggle", "aria-label": `${a.active ? "Deactivate" : "Activate"} ${a.username}`,
          onclick: async (e) => {
            e.currentTarget.disabled = true;
            try {
              await api("PATCH", `/api/staff/accounts/${a.id}`, { active: !a.active });
              await load();
            } catch (err) {
              if (err.status !== 401) errors.show(err.message);
              e.target.disabled = false;
            }
          },
        }, a.active ? "Deactivate" : "Activate")));
    }

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      formError.hidden = true;
      formOk.hidden = true;
      if (!username.value.trim() || !password.value) {
        formError.textContent = "Username and password are required.";
        formError.hidden = false;
        return;
      }
      create.disabled = true;
      try {
        const created = await api("POST", "/api/staff/accounts", {
          username: username.value.trim(), password: password.value,
          name: name.value.trim() || null, role: role.value,
        });
        form.reset();
        formOk.textContent = `Created ${created.username}.`;
        formOk.hidden = false;
        await load();
        username.focus();
      } catch (err) {
        if (err.status !== 401) { formError.textContent = err.message; formError.hidden = false; }
      } finally {
        create.disabled = false;
      }
    });

    load();
    return { name: "staff" };
  }

  boot();
})();
