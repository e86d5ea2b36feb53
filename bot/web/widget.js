/*!
 * cxagent customer chat widget.
 *
 * Embed with one tag:
 *   <script src="https://support.example.com/widget.js" data-title="Brightcart help" async></script>
 *
 * Optional attributes: data-title, data-greeting, data-color, data-position (right|left),
 * data-customer-id, data-customer-name, data-customer-signature, data-open ("true"),
 * data-bot-name. The API it talks to is described in docs/live-api.md.
 */
(function () {
  "use strict";

  // Loaded twice (two tags, or a SPA re-injecting it): the first copy wins.
  if (window.cxagentWidget) return;

  // ------------------------------------------------------------------ configuration

  // With `async`, document.currentScript is still set while this file runs; the lookup is a
  // fallback for loaders that inject the code some other way.
  const script =
    document.currentScript ||
    Array.from(document.querySelectorAll('script[src*="widget.js"]')).pop() ||
    null;
  const data = (script && script.dataset) || {};
  const BASE = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  const WS_BASE = BASE.replace(/^http/, "ws"); // http→ws, https→wss
  const STORE_KEY = "cxagent:" + BASE;

  const TITLE = (data.title || "Support").trim();
  const config = {
    title: TITLE,
    greeting: (data.greeting || "").trim(),
    color: normaliseColor(data.color) || "#4f46e5",
    position: data.position === "left" ? "left" : "right",
    open: data.open === "true",
    // "Brightcart help" → "Brightcart", for lines like "Brightcart is typing…".
    botName:
      (data.botName || "").trim() ||
      TITLE.replace(/\s+(help|support|chat|assistant|helpdesk|team)$/i, "").trim() ||
      "Assistant",
    customer: pick({
      external_id: data.customerId,
      name: data.customerName,
      signature: data.customerSignature,
    }),
  };

  const BACKOFF_MIN = 500;
  const BACKOFF_MAX = 10000;
  const TYPING_TIMEOUT = 8000;
  const MAX_TEXT = 2000;

  // ------------------------------------------------------------------ state

  const TYPING_EVERY_MS = 3000;
  const stored = readStore();
  const S = {
    conversationId: stored.conversation_id || null,
    token: stored.customer_token || null,
    // Messages not yet acknowledged by the server: {id, text, at, failed?}. Survives reloads.
    outbox: Array.isArray(stored.outbox) ? stored.outbox.filter(validOutboxItem) : [],
    surveyed: Array.isArray(stored.surveyed) ? stored.surveyed : [],
    agentName: stored.agent || null, // the last person seen; messages don't always name them
    status: null, // bot | waiting | with_agent | closed, as the server last told us
    ws: null,
    socketGen: 0, // bumps per socket so an outbox item is sent once per connection
    connected: false,
    ready: false, // connected *and* caught up: safe to send
    everConnected: false,
    showConn: false,
    retryDelay: BACKOFF_MIN,
    retryTimer: null,
    connTimer: null,
    starting: false,
    startTimer: null,
    startDelay: BACKOFF_MIN,
    open: false,
    unread: 0,
    typingTimer: null,
    replyDue: false, // a message went out and the bot's reply has not come yet
    deferred: [], // system lines held back until that reply
    deferTimer: null,
    shown: new Map(), // server message id → element: each id is rendered once
    pending: new Map(), // client_message_id → element of a not-yet-acked bubble
    acked: new Set(), // client ids the server acknowledged in this page view
  };

  // The public handle; set before the DOM is ready so a second copy sees it at once.
  const api = {
    open: () => whenReady(() => openPanel()),
    close: () => whenReady(() => closePanel(false)),
    state: () => ({
      conversationId: S.conversationId,
      connected: S.connected,
      outbox: S.outbox.length,
      status: S.status,
      open: S.open,
    }),
  };
  window.cxagentWidget = Object.freeze(api);

  let ui = null; // the DOM references, once built
  const readyQueue = [];
  function whenReady(fn) {
    if (ui) fn();
    else readyQueue.push(fn);
  }

  // ------------------------------------------------------------------ helpers

  function pick(object) {
    const out = {};
    for (const [key, value] of Object.entries(object)) {
      if (typeof value === "string" && value.trim()) out[key] = value.trim();
    }
    return out;
  }

  function validOutboxItem(item) {
    return item && typeof item.id === "string" && typeof item.text === "string" && item.text;
  }

  function readStore() {
    try {
      return JSON.parse(localStorage.getItem(STORE_KEY) || "{}") || {};
    } catch (_) {
      return {}; // storage blocked (privacy mode, sandboxed iframe): run from memory
    }
  }

  function writeStore() {
    // Another tab of this site may have queued messages of this conversation since we last
    // read: keep them. Keeping too much is harmless (the server answers a resend once);
    // dropping them would lose them.
    const current = readStore();
    const mine = new Set(S.outbox.map((i) => i.id));
    const theirs = current.conversation_id === S.conversationId && Array.isArray(current.outbox)
      ? current.outbox.filter((i) => validOutboxItem(i) && !mine.has(i.id) && !S.acked.has(i.id))
      : [];
    const value = {
      conversation_id: S.conversationId,
      customer_token: S.token,
      outbox: S.outbox.concat(theirs).map(({ id, text, at, failed }) => ({ id, text, at, failed: !!failed })),
      surveyed: S.surveyed.slice(-50),
      agent: S.agentName,
    };
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(value));
    } catch (_) {
      /* quota or blocked storage: the chat still works for this page view */
    }
  }

  function uuid() {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    // randomUUID needs a secure context; getRandomValues does not.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function normaliseColor(value) {
    if (!value || !window.CSS || !CSS.supports("color", value)) return null;
    const ctx = document.createElement("canvas").getContext("2d");
    if (!ctx) return value;
    ctx.fillStyle = "#000";
    ctx.fillStyle = value;
    return ctx.fillStyle; // "#rrggbb" (or rgba(...) for translucent colours)
  }

  function rgb(color) {
    let m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
    if (m) return m.slice(1).map((x) => parseInt(x, 16));
    m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(color);
    return m ? m.slice(1).map(Number) : [79, 70, 229];
  }

  function luminance(color) {
    const [r, g, b] = rgb(color).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  function contrast(a, b) {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  }

  /** Build an element. Text only ever goes in through textContent. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value == null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child == null || child === false) continue;
      el.append(child.nodeType ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function svg(paths, size) {
    const ns = "http://www.w3.org/2000/svg";
    const el = document.createElementNS(ns, "svg");
    el.setAttribute("viewBox", "0 0 24 24");
    el.setAttribute("width", size || 24);
    el.setAttribute("height", size || 24);
    el.setAttribute("aria-hidden", "true");
    el.setAttribute("focusable", "false");
    for (const d of paths) {
      const p = document.createElementNS(ns, "path");
      p.setAttribute("d", d);
      el.append(p);
    }
    return el;
  }

  const ICONS = {
    chat: [
      "M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6c-.6.5-1.3.1-1.3-.6V16.0A2.5 2.5 0 0 1 4 13.5z",
    ],
    down: ["M6.7 9.3a1 1 0 0 1 1.4 0L12 13.2l3.9-3.9a1 1 0 1 1 1.4 1.4l-4.6 4.6a1 1 0 0 1-1.4 0l-4.6-4.6a1 1 0 0 1 0-1.4z"],
    send: ["M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z"],
  };

  /** Plain text with http(s) links made clickable, built from text nodes and <a> elements. */
  function richText(text) {
    const frag = document.createDocumentFragment();
    const re = /\bhttps?:\/\/[^\s<>"]*[^\s<>".,;:!?)\]'’]/g;
    let last = 0;
    let m;
    while ((m = re.exec(text))) {
      frag.append(text.slice(last, m.index));
      frag.append(h("a", { href: m[0], target: "_blank", rel: "noopener noreferrer", text: m[0] }));
      last = m.index + m[0].length;
    }
    frag.append(text.slice(last));
    return frag;
  }

  function initial(name) {
    return (name || "?").trim().charAt(0).toUpperCase() || "?";
  }

  function timeLabel(iso) {
    const d = iso ? new Date(iso) : new Date();
    return isNaN(d) ? "" : d.toLocaleString();
  }

  async function request(method, path, body, token) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = "Bearer " + token;
    const res = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", // the customer token is the only credential; no cookies
    });
    let payload = null;
    if (res.status !== 204) {
      try {
        payload = await res.json();
      } catch (_) {
        payload = null;
      }
    }
    return { ok: res.ok, status: res.status, data: payload };
  }

  // ------------------------------------------------------------------ styles

  const CSS_TEXT = `
:host { all: initial; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.cx-root {
  --cx-ink: #1c2030; --cx-ink-2: #555c6e; --cx-line: #e4e6ee; --cx-bg: #f6f7fb;
  --cx-danger: #b42318; --cx-radius: 18px;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--cx-ink); -webkit-font-smoothing: antialiased;
  position: fixed; bottom: 20px; z-index: 2147483000;
}
.cx-root.cx-right { right: 20px; }
.cx-root.cx-left { left: 20px; }
button, textarea, input { font: inherit; color: inherit; }
button { cursor: pointer; }
:focus { outline: none; }
:focus-visible { outline: 3px solid var(--cx-focus); outline-offset: 2px; }
[tabindex="-1"]:focus-visible { outline: none; } /* focused by script, not a control */
.cx-sr { position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }

/* Launcher */
.cx-launcher {
  position: relative; width: 60px; height: 60px; border-radius: 50%; border: 0; padding: 0;
  display: grid; place-items: center; margin-left: auto;
  background: var(--cx-accent); color: var(--cx-on-accent);
  box-shadow: 0 6px 20px rgba(17, 24, 39, .28), 0 2px 6px rgba(17, 24, 39, .18);
  transition: transform .18s ease, box-shadow .18s ease;
}
.cx-left .cx-launcher { margin-left: 0; }
.cx-launcher:hover { transform: scale(1.06); box-shadow: 0 10px 26px rgba(17, 24, 39, .32); }
.cx-launcher svg { fill: currentColor; transition: transform .2s ease, opacity .2s ease; }
.cx-launcher .cx-i-down { position: absolute; opacity: 0; transform: rotate(-90deg); }
.cx-open .cx-launcher .cx-i-chat { opacity: 0; transform: rotate(90deg) scale(.6); }
.cx-open .cx-launcher .cx-i-down { opacity: 1; transform: none; }
.cx-badge {
  position: absolute; top: -3px; right: -3px; min-width: 22px; height: 22px; padding: 0 6px;
  border-radius: 11px; background: #d92d20; color: #fff; font-size: 12px; font-weight: 700;
  line-height: 22px; text-align: center; border: 2px solid #fff;
}

/* Panel */
.cx-panel {
  position: absolute; bottom: 76px; width: 384px;
  height: min(660px, calc(100vh - 110px)); max-height: calc(100vh - 110px);
  display: flex; flex-direction: column; overflow: hidden;
  background: #fff; border-radius: 20px;
  box-shadow: 0 18px 50px rgba(17, 24, 39, .24), 0 4px 14px rgba(17, 24, 39, .12);
  transform-origin: bottom right; animation: cx-pop .22s cubic-bezier(.2, .9, .3, 1.2);
}
.cx-right .cx-panel { right: 0; }
.cx-left .cx-panel { left: 0; transform-origin: bottom left; }
@keyframes cx-pop { from { opacity: 0; transform: translateY(12px) scale(.96); } }

.cx-header {
  flex: none; display: flex; align-items: center; gap: 12px; padding: 16px 14px 16px 18px;
  color: var(--cx-on-accent);
  background: var(--cx-accent);
  background: linear-gradient(135deg, var(--cx-accent), var(--cx-accent-2));
}
.cx-offline .cx-avatar-lg::after { background: #98a2b3; }
.cx-header :focus-visible { outline-color: var(--cx-on-accent); }
.cx-avatar-lg {
  flex: none; width: 40px; height: 40px; border-radius: 50%; display: grid; place-items: center;
  font-weight: 700; font-size: 17px; background: rgba(255, 255, 255, .22);
  box-shadow: inset 0 0 0 2px rgba(255, 255, 255, .35); position: relative;
}
.cx-avatar-lg::after {
  content: ""; position: absolute; right: -1px; bottom: -1px; width: 11px; height: 11px;
  border-radius: 50%; background: #12b76a; border: 2px solid var(--cx-accent);
}
.cx-headtext { flex: 1; min-width: 0; }
.cx-title { margin: 0; font-size: 16.5px; font-weight: 700; line-height: 1.25;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.cx-subtitle { margin: 2px 0 0; font-size: 13px; line-height: 1.3; opacity: .92;
  display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
.cx-hbtn {
  flex: none; border: 0; background: rgba(255, 255, 255, .16); color: inherit;
  border-radius: 999px; height: 30px; padding: 0 11px; font-size: 12.5px; font-weight: 600;
  white-space: nowrap;
  transition: background .15s ease;
}
.cx-hbtn:hover { background: rgba(255, 255, 255, .28); }
.cx-hbtn.cx-icon { width: 32px; padding: 0; display: grid; place-items: center; }
.cx-hbtn svg { fill: currentColor; }

.cx-conn {
  flex: none; display: flex; align-items: center; justify-content: center; gap: 8px;
  padding: 7px 12px; font-size: 13px; font-weight: 600;
  background: #fef6e7; color: #7a4a00; border-bottom: 1px solid #f6dfb3;
}
.cx-conn::before {
  content: ""; width: 12px; height: 12px; border-radius: 50%;
  border: 2px solid currentColor; border-right-color: transparent; animation: cx-spin .8s linear infinite;
}
@keyframes cx-spin { to { transform: rotate(360deg); } }

.cx-body {
  flex: 1; overflow-y: auto; overscroll-behavior: contain; background: var(--cx-bg);
  padding: 18px 16px 8px;
}
.cx-log { display: flex; flex-direction: column; gap: 4px; }

.cx-row { display: flex; align-items: flex-end; gap: 8px; max-width: 100%; margin-top: 6px; }
.cx-row.cx-customer { justify-content: flex-end; }
.cx-avatar {
  flex: none; width: 28px; height: 28px; border-radius: 50%; display: grid; place-items: center;
  font-size: 12.5px; font-weight: 700; background: var(--cx-accent); color: var(--cx-on-accent);
}
.cx-agent .cx-avatar { background: #0e7c66; color: #fff; }
/* Initials and "Sam:" come from attributes, so a message's textContent is just its text. */
.cx-avatar::before, .cx-avatar-lg::before { content: attr(data-initial); }
.cx-bubble[data-speaker]::before {
  content: attr(data-speaker) ": "; position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap;
}
.cx-stack { display: flex; flex-direction: column; min-width: 0; max-width: 80%; }
.cx-customer .cx-stack { align-items: flex-end; }
.cx-author { font-size: 12px; font-weight: 600; color: var(--cx-ink-2); margin: 0 0 3px 4px; }
.cx-bubble {
  padding: 10px 14px; border-radius: var(--cx-radius); white-space: pre-wrap;
  overflow-wrap: anywhere; background: #fff; color: var(--cx-ink);
  box-shadow: 0 1px 2px rgba(17, 24, 39, .08); border: 1px solid var(--cx-line);
  border-bottom-left-radius: 6px;
}
.cx-bubble a { color: inherit; text-decoration: underline; text-underline-offset: 2px; }
.cx-customer .cx-bubble {
  background: var(--cx-accent); color: var(--cx-on-accent); border-color: transparent;
  border-bottom-left-radius: var(--cx-radius); border-bottom-right-radius: 6px;
}
.cx-customer[data-state="pending"] .cx-bubble { opacity: .7; }
.cx-customer[data-state="failed"] .cx-bubble {
  background: #fff; color: var(--cx-ink); border: 1.5px solid var(--cx-danger);
}
.cx-meta { font-size: 12px; color: var(--cx-ink-2); margin: 3px 4px 0; display: flex; gap: 6px; align-items: center; }
.cx-customer[data-state="failed"] .cx-meta { color: var(--cx-danger); font-weight: 600; }
.cx-retry {
  border: 0; background: none; padding: 0 2px; color: var(--cx-danger); font-weight: 700;
  text-decoration: underline; text-underline-offset: 2px; font-size: 12px;
}
.cx-system {
  align-self: center; text-align: center; margin: 10px 0 6px; padding: 5px 12px;
  font-size: 12.5px; color: var(--cx-ink-2); background: #eceef4; border-radius: 999px;
  max-width: 90%;
}

/* Typing indicator */
.cx-typing { margin-top: 10px; }
.cx-dots { display: inline-flex; gap: 4px; padding: 13px 14px; }
.cx-dots i {
  width: 7px; height: 7px; border-radius: 50%; background: #8a90a2; display: block;
  animation: cx-bounce 1.2s infinite ease-in-out;
}
.cx-dots i:nth-child(2) { animation-delay: .15s; }
.cx-dots i:nth-child(3) { animation-delay: .3s; }
@keyframes cx-bounce { 0%, 60%, 100% { transform: translateY(0); opacity: .5; } 30% { transform: translateY(-5px); opacity: 1; } }

/* Cards: survey and thanks */
.cx-card {
  margin: 14px 0 8px; padding: 16px; background: #fff; border: 1px solid var(--cx-line);
  border-radius: 16px; box-shadow: 0 4px 14px rgba(17, 24, 39, .07);
}
.cx-card h3 { margin: 0 0 2px; font-size: 15.5px; }
.cx-card > p { margin: 0 0 12px; font-size: 13px; color: var(--cx-ink-2); }
.cx-q { border: 0; margin: 0 0 14px; padding: 0; min-width: 0; }
.cx-q legend { padding: 0; margin-bottom: 8px; font-size: 13.5px; font-weight: 600; }
.cx-scale { display: flex; gap: 4px; }
.cx-opt { position: relative; flex: 1; min-width: 0; }
/* The real radio covers its pill (invisible), so clicks, keyboard and tests all use it. */
.cx-opt input {
  position: absolute; inset: 0; width: 100%; height: 100%; margin: 0; opacity: 0;
  cursor: pointer; z-index: 1;
}
.cx-opt > span {
  display: grid; place-items: center; height: 34px; border-radius: 9px; font-size: 13.5px;
  font-weight: 600; border: 1px solid #cfd3de; background: #fff; color: var(--cx-ink);
  transition: background .12s ease, border-color .12s ease;
}
.cx-scale-11 .cx-opt > span { height: 30px; font-size: 12.5px; border-radius: 7px; }
.cx-scale-11 { gap: 3px; }
.cx-opt input:hover + span { border-color: var(--cx-accent); background: color-mix(in srgb, var(--cx-accent) 8%, #fff); }
.cx-opt input:checked + span, .cx-opt input:checked:hover + span {
  background: var(--cx-accent); border-color: var(--cx-accent); color: var(--cx-on-accent);
}
.cx-opt input:focus-visible + span { outline: 3px solid var(--cx-focus); outline-offset: 2px; }
.cx-ends { display: flex; justify-content: space-between; font-size: 11.5px; color: var(--cx-ink-2); margin-top: 4px; }
.cx-comment-label { display: block; font-size: 13.5px; font-weight: 600; margin-bottom: 6px; }
.cx-comment {
  width: 100%; min-height: 64px; resize: vertical; padding: 9px 11px; border-radius: 10px;
  border: 1px solid #cfd3de; background: #fff; font-size: 14px;
}
.cx-comment:focus-visible { outline-offset: 0; }
.cx-card .cx-form-error { margin: 10px 0 0; font-size: 13px; color: var(--cx-danger); font-weight: 600; }
.cx-primary {
  margin-top: 12px; width: 100%; height: 40px; border: 0; border-radius: 10px;
  background: var(--cx-accent); color: var(--cx-on-accent); font-weight: 700; font-size: 14.5px;
}
.cx-primary:hover { filter: brightness(1.08); }
.cx-primary[disabled] { opacity: .6; cursor: progress; }
.cx-thanks { text-align: center; padding: 20px 16px; }
.cx-thanks .cx-check {
  width: 40px; height: 40px; border-radius: 50%; margin: 0 auto 8px; display: grid; place-items: center;
  background: #e7f6ee; color: #0b7a46; font-size: 22px; font-weight: 700;
}
.cx-thanks p { margin: 0; font-weight: 600; }

/* Composer */
.cx-error {
  flex: none; margin: 0; padding: 8px 14px; font-size: 13px; font-weight: 600;
  color: var(--cx-danger); background: #fef3f2; border-top: 1px solid #fbd5d2;
}
.cx-composer {
  flex: none; display: flex; align-items: flex-end; gap: 8px; padding: 10px 10px 10px 16px;
  border-top: 1px solid var(--cx-line); background: #fff;
}
.cx-input {
  flex: 1; min-width: 0; border: 0; resize: none; background: transparent; padding: 9px 0;
  max-height: 120px; line-height: 1.4; font-size: 15px;
}
.cx-input::placeholder { color: #6b7183; }
.cx-input:focus-visible { outline: none; }
.cx-composer:focus-within { box-shadow: inset 0 2px 0 var(--cx-accent); }
.cx-send {
  flex: none; width: 40px; height: 40px; border-radius: 12px; border: 0; display: grid;
  place-items: center; background: var(--cx-accent); color: var(--cx-on-accent);
  transition: opacity .15s ease, transform .15s ease;
}
.cx-send svg { fill: currentColor; }
.cx-send.cx-empty { opacity: .45; }
.cx-send:not(.cx-empty):hover { transform: translateY(-1px); }
.cx-footer {
  flex: none; text-align: center; font-size: 11.5px; color: #6b7183; padding: 0 0 8px; background: #fff;
}

/* Phones: the open panel takes the whole screen. */
@media (max-width: 480px) {
  .cx-root { bottom: 16px; }
  .cx-root.cx-right { right: 16px; } .cx-root.cx-left { left: 16px; }
  .cx-open .cx-launcher { display: none; }
  .cx-panel {
    position: fixed; inset: 0; width: 100%; height: 100%; max-height: none; border-radius: 0;
    animation-name: cx-slide;
  }
  @keyframes cx-slide { from { transform: translateY(24px); opacity: 0; } }
  .cx-input { font-size: 16px; } /* iOS zooms into smaller inputs */
}
@media (prefers-reduced-motion: reduce) {
  *, *::before, *::after { animation-duration: .001s !important; animation-iteration-count: 1 !important; transition: none !important; }
}
`;

  // ------------------------------------------------------------------ DOM

  function build() {
    const host = h("div", { id: "cxagent-widget", "data-cxagent": "" });
    const root = host.attachShadow({ mode: "open" });

    // Text on the accent: whichever of white or near-black reads better on it.
    const onAccent = contrast(config.color, "#ffffff") >= contrast(config.color, "#111827") ? "#ffffff" : "#111827";
    const focus = contrast(config.color, "#ffffff") >= 3 ? config.color : "#1c2030";
    const style = h("style", { text: CSS_TEXT });

    const input = h("textarea", {
      id: "cx-input",
      class: "cx-input",
      "data-testid": "cx-input",
      rows: 1,
      maxlength: MAX_TEXT,
      placeholder: "Write a message…",
      autocomplete: "off",
    });
    const send = h(
      "button",
      { type: "submit", class: "cx-send cx-empty", "data-testid": "cx-send", "aria-label": "Send message" },
      svg(ICONS.send, 20)
    );
    const composer = h(
      "form",
      { class: "cx-composer", novalidate: true },
      h("label", { for: "cx-input", class: "cx-sr", text: "Your message" }),
      input,
      send
    );

    const log = h("div", {
      class: "cx-log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-label": "Conversation",
      "data-testid": "cx-log",
    });
    const typingText = h("span", { class: "cx-sr" });
    const typingAvatar = h("div", { class: "cx-avatar", "aria-hidden": "true" });
    const typing = h(
      "div",
      { class: "cx-row cx-bot cx-typing", "data-testid": "cx-typing", role: "status", hidden: true },
      typingAvatar,
      h("div", { class: "cx-bubble cx-dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")),
      typingText
    );
    const cards = h("div", { class: "cx-cards" });
    const body = h("div", { class: "cx-body" }, log, typing, cards);

    const subtitle = h("p", { class: "cx-subtitle" });
    const headAvatar = h("div", { class: "cx-avatar-lg", "aria-hidden": "true", "data-initial": initial(config.botName) });
    const endBtn = h("button", { type: "button", class: "cx-hbtn", "data-testid": "cx-end", text: "End chat" });
    const minBtn = h(
      "button",
      { type: "button", class: "cx-hbtn cx-icon", "aria-label": "Minimize chat", title: "Minimize" },
      svg(ICONS.down, 22)
    );
    const header = h(
      "div",
      { class: "cx-header" },
      headAvatar,
      h("div", { class: "cx-headtext" }, h("h2", { class: "cx-title", id: "cx-title", text: config.title }), subtitle),
      endBtn,
      minBtn
    );
    const connection = h("div", {
      class: "cx-conn",
      "data-testid": "cx-connection",
      role: "status",
      hidden: true,
    });
    const error = h("p", { class: "cx-error", "data-testid": "cx-error", role: "alert", hidden: true });
    const panel = h(
      "div",
      {
        class: "cx-panel",
        id: "cx-panel",
        role: "dialog",
        "aria-label": config.title,
        "data-testid": "cx-panel",
        tabindex: "-1",
        hidden: true,
      },
      header,
      connection,
      body,
      error,
      composer,
      h("div", { class: "cx-footer", text: "Powered by cxagent" })
    );

    const badge = h("span", { class: "cx-badge", "aria-hidden": "true", hidden: true });
    const launcher = h(
      "button",
      {
        type: "button",
        class: "cx-launcher",
        "data-testid": "cx-launcher",
        "aria-label": "Open chat",
        "aria-expanded": "false",
        "aria-controls": "cx-panel",
      },
      (() => {
        const i = svg(ICONS.chat, 28);
        i.classList.add("cx-i-chat");
        return i;
      })(),
      (() => {
        const i = svg(ICONS.down, 30);
        i.classList.add("cx-i-down");
        return i;
      })(),
      badge
    );

    const wrap = h("div", { class: `cx-root cx-${config.position}` }, panel, launcher);
    wrap.style.setProperty("--cx-accent", config.color);
    wrap.style.setProperty("--cx-on-accent", onAccent);
    // The header gradient deepens away from its text colour, so the title keeps its contrast.
    const deep = onAccent === "#ffffff" ? "#000" : "#fff";
    wrap.style.setProperty("--cx-accent-2", `color-mix(in srgb, ${config.color} 74%, ${deep})`);
    wrap.style.setProperty("--cx-focus", focus);
    root.append(style, wrap);
    document.body.append(host);

    // Events
    launcher.addEventListener("click", () => (S.open ? closePanel(true) : openPanel()));
    minBtn.addEventListener("click", () => closePanel(true));
    endBtn.addEventListener("click", endChat);
    wrap.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && S.open) {
        e.stopPropagation();
        closePanel(true);
      }
    });
    composer.addEventListener("submit", (e) => {
      e.preventDefault();
      submitInput();
    });
    input.addEventListener("keydown", (e) => {
      // Enter sends; Shift+Enter is a newline; never interrupt an IME composition.
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        submitInput();
      }
    });
    body.addEventListener("scroll", trackScroll, { passive: true });
    input.addEventListener("input", () => {
      autoGrow();
      send.classList.toggle("cx-empty", !input.value.trim());
      if (input.value.trim()) noteTyping();
    });

    return { host, root, wrap, panel, launcher, badge, log, body, typing, typingText, typingAvatar, cards, subtitle, headAvatar, connection, error, input, send };
  }

  function autoGrow() {
    const el = ui.input;
    el.style.height = "auto";
    el.style.height = Math.min(el.scrollHeight, 120) + "px";
  }

  // Follow new messages only while the reader is at the bottom; someone scrolled up to
  // reread something shouldn't be yanked down. (Measured on scroll, i.e. before content grows.)
  let stuckToBottom = true;
  function trackScroll() {
    const b = ui.body;
    stuckToBottom = b.scrollHeight - b.scrollTop - b.clientHeight < 60;
  }

  function scrollToBottom(force) {
    if (force || stuckToBottom) {
      ui.body.scrollTop = ui.body.scrollHeight;
      stuckToBottom = true;
    }
  }

  // ------------------------------------------------------------------ rendering messages

  function authorName(message) {
    if (message.role === "bot") return config.botName;
    if (message.role === "customer") return "You";
    const a = message.author || message.agent || message.agent_name;
    return (typeof a === "string" && a) || S.agentName || "Support agent";
  }

  function messageEl(role, text, name, createdAt) {
    const stack = h("div", { class: "cx-stack" });
    if (role === "agent") stack.append(h("div", { class: "cx-author", text: name }));
    // Screen readers hear who said it; sighted users see it from the layout.
    const bubble = h("div", { class: "cx-bubble", title: timeLabel(createdAt), "data-speaker": name }, richText(text));
    stack.append(bubble);
    const row = h("div", { class: `cx-row cx-${role}`, "data-testid": "cx-message", "data-role": role }, stack);
    if (role !== "customer") row.prepend(h("div", { class: "cx-avatar", "aria-hidden": "true", "data-initial": initial(name) }));
    return row;
  }

  function setBubbleText(row, text, name) {
    const bubble = row.querySelector(".cx-bubble");
    bubble.setAttribute("data-speaker", name);
    bubble.replaceChildren(richText(text));
  }

  function setCustomerState(row, state, item) {
    row.setAttribute("data-state", state);
    const old = row.querySelector(".cx-meta");
    if (old) old.remove();
    if (state === "pending") {
      row.querySelector(".cx-stack").append(h("div", { class: "cx-meta", text: "Sending…" }));
    } else if (state === "failed") {
      const retry = h("button", { type: "button", class: "cx-retry", "data-testid": "cx-retry", text: "Retry" });
      retry.addEventListener("click", () => retryItem(item.id));
      row.querySelector(".cx-stack").append(h("div", { class: "cx-meta" }, h("span", { text: "Not sent —" }), retry));
    }
  }

  /** Put a server message where its id belongs: after older ones, before local pending bubbles. */
  function placeServerRow(row, id) {
    let before = null;
    for (let el = ui.log.lastElementChild; el; el = el.previousElementSibling) {
      const elId = el.getAttribute("data-id");
      const isLocal = el.getAttribute("data-role") === "customer" && !elId;
      if (isLocal || (elId && Number(elId) > Number(id))) before = el;
      else break; // an older message, a system line or the greeting: stop here
    }
    ui.log.insertBefore(row, before);
  }

  /** Any server message (ack, reply, push or transcript). Renders each id once. */
  function receive(message, live) {
    if (!message || message.id == null) return;
    const id = String(message.id);
    const cid = message.role === "customer" ? message.client_message_id : null;
    if (cid) dropFromOutbox(cid);
    const pendingRow = cid ? S.pending.get(cid) : null;
    if (cid) S.pending.delete(cid);

    if (S.shown.has(id)) {
      if (pendingRow && pendingRow !== S.shown.get(id)) pendingRow.remove();
      return;
    }
    const name = authorName(message);
    let row;
    if (pendingRow) {
      // The local bubble becomes the stored message: same place, now with the server's id
      // (and the stored text, which may be redacted).
      row = pendingRow;
      setBubbleText(row, message.text, name);
      row.querySelector(".cx-bubble").title = timeLabel(message.created_at);
    } else {
      row = messageEl(message.role, message.text, name, message.created_at);
      placeServerRow(row, id);
    }
    row.setAttribute("data-id", id);
    if (message.role === "customer") setCustomerState(row, "sent");
    S.shown.set(id, row);

    if (live && message.role !== "customer") {
      hideTyping();
      if (!S.open) {
        S.unread += 1;
        renderBadge();
      }
    }
    scrollToBottom(message.role === "customer");
  }

  function renderPending(item) {
    const row = messageEl("customer", item.text, "You", new Date(item.at || Date.now()).toISOString());
    S.pending.set(item.id, row);
    setCustomerState(row, item.failed ? "failed" : "pending", item);
    ui.log.append(row);
    scrollToBottom(true);
  }

  function systemLine(text) {
    const row = h("div", { class: "cx-system", "data-testid": "cx-message", "data-role": "system", text });
    ui.log.append(row);
    scrollToBottom(false);
  }

  function renderGreeting() {
    if (!config.greeting) return;
    const row = messageEl("bot", config.greeting, config.botName);
    row.setAttribute("data-testid", "cx-greeting"); // local text, not a stored message
    row.removeAttribute("data-role");
    ui.log.append(row);
  }

  function renderBadge() {
    ui.badge.hidden = S.unread === 0;
    ui.badge.textContent = S.unread > 9 ? "9+" : String(S.unread);
  }

  function renderHeader() {
    const agent = S.agentName || "a person";
    const lines = {
      waiting: "Connecting you to a person…",
      with_agent: `You're chatting with ${agent}`,
      closed: "This conversation has ended",
    };
    ui.subtitle.textContent = lines[S.status] || "We reply in seconds";
    ui.headAvatar.setAttribute("data-initial", initial(S.status === "with_agent" ? S.agentName : config.botName));
  }

  function renderConnection() {
    const show = !!S.conversationId && !S.connected && S.showConn;
    ui.connection.hidden = !show;
    ui.wrap.classList.toggle("cx-offline", show); // greys the "online" dot
    ui.connection.textContent = S.everConnected ? "Reconnecting…" : "Connecting…";
  }

  let errorTimer = null;
  function showError(text) {
    ui.error.textContent = text;
    ui.error.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(clearError, 12000);
  }
  function clearError() {
    ui.error.hidden = true;
    ui.error.textContent = "";
  }

  function showTyping(name) {
    ui.typingText.textContent = `${name} is typing…`;
    ui.typingAvatar.setAttribute("data-initial", initial(name));
    ui.typing.classList.toggle("cx-agent", name !== config.botName);
    ui.typing.hidden = false;
    clearTimeout(S.typingTimer);
    S.typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT);
    scrollToBottom(false);
  }
  function hideTyping() {
    clearTimeout(S.typingTimer);
    ui.typing.hidden = true;
  }

  // ------------------------------------------------------------------ conversation lifecycle

  /** Start the conversation if there is none (lazily), or make sure we are connecting. */
  async function ensureConversation() {
    if (S.conversationId) {
      if (!S.ws && !S.retryTimer) connect();
      return;
    }
    if (S.starting) return;
    S.starting = true;
    clearTimeout(S.startTimer);
    S.startTimer = null;
    let res;
    try {
      res = await request("POST", "/api/conversations", { customer: config.customer, channel: "web" });
    } catch (_) {
      res = null;
    } finally {
      S.starting = false;
    }
    if (res && res.ok && res.data && res.data.conversation_id) {
      S.conversationId = res.data.conversation_id;
      S.token = res.data.customer_token;
      S.status = "bot";
      S.startDelay = BACKOFF_MIN;
      writeStore();
      clearError();
      renderHeader();
      connect();
      return;
    }
    if (res && res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      // Retrying the same request won't help (e.g. a bad identity signature).
      showError("Sorry, the chat couldn't start. Please try again later.");
      for (const item of S.outbox) markFailed(item.id);
      return;
    }
    showError("Can't reach support right now. We'll keep trying…");
    if (S.open || S.outbox.some((i) => !i.failed)) {
      S.startTimer = setTimeout(ensureConversation, S.startDelay * (1 + Math.random() * 0.3));
      S.startDelay = Math.min(S.startDelay * 2, BACKOFF_MAX);
    }
  }

  /** The stored conversation is gone or not ours any more: start over on the next send. */
  function forgetConversation() {
    dropSocket();
    clearTimeout(S.retryTimer);
    S.retryTimer = null;
    S.conversationId = null;
    S.token = null;
    S.status = null;
    S.everConnected = false;
    writeStore();
    // Its messages go too; unsent ones stay and will open the new conversation.
    for (const row of S.shown.values()) row.remove();
    S.shown.clear();
    ui.log.querySelectorAll(".cx-system").forEach((el) => el.remove());
    ui.cards.replaceChildren();
    hideTyping();
    renderHeader();
    renderConnection();
    if (S.outbox.some((i) => !i.failed)) ensureConversation();
  }

  /** GET the transcript and render what we have not shown. Returns "ok" | "gone" | "error". */
  async function catchUp() {
    const id = S.conversationId;
    if (!id) return "gone";
    let res;
    try {
      res = await request("GET", `/api/conversations/${encodeURIComponent(id)}/messages`, undefined, S.token);
    } catch (_) {
      return "error"; // offline: the connection line already says so
    }
    if (id !== S.conversationId) return "gone";
    if (res.status === 403 || res.status === 404) {
      forgetConversation();
      return "gone";
    }
    if (!res.ok || !res.data) {
      showError("Couldn't load the conversation. Retrying…");
      return "error";
    }
    const t = res.data;
    if (t.agent) S.agentName = t.agent;
    for (const message of t.messages || []) receive(message, false);
    if (t.status) applyStatus(t.status, t.agent || null, S.status !== null);
    writeStore();
    return "ok";
  }

  // ------------------------------------------------------------------ WebSocket

  function connect() {
    clearTimeout(S.retryTimer);
    S.retryTimer = null;
    if (!S.conversationId || S.ws) return;
    const gen = ++S.socketGen;
    const url = `${WS_BASE}/api/conversations/${encodeURIComponent(S.conversationId)}/ws?token=${encodeURIComponent(S.token)}`;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (_) {
      scheduleReconnect();
      return;
    }
    S.ws = ws;
    let opened = false;
    // Don't flash "Connecting…" for a socket that opens in a blink.
    clearTimeout(S.connTimer);
    S.connTimer = setTimeout(() => {
      S.showConn = true;
      renderConnection();
    }, S.everConnected ? 0 : 1200);

    ws.onopen = async () => {
      if (S.ws !== ws) return;
      opened = true;
      S.connected = true;
      S.everConnected = true;
      S.showConn = false;
      clearTimeout(S.connTimer);
      renderConnection();
      // Catch up first, so a message stored before the drop is not sent again needlessly.
      await catchUp();
      if (S.ws !== ws || gen !== S.socketGen) return;
      S.ready = true;
      S.retryDelay = BACKOFF_MIN;
      flushOutbox();
    };
    ws.onmessage = (event) => {
      if (S.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      handleFrame(frame);
    };
    ws.onclose = async (event) => {
      if (S.ws !== ws) return;
      S.ws = null;
      S.connected = false;
      S.ready = false;
      S.showConn = true;
      clearTimeout(S.connTimer);
      renderConnection();
      flushDeferred(); // a reply cut off by the drop comes with the catch-up instead
      if (event.code === 4403 || event.code === 4404) {
        forgetConversation();
        return;
      }
      if (!opened) {
        // A refused handshake reaches browsers as 1006, not 4403/4404: ask over HTTP why.
        const why = await catchUp();
        if (why === "gone" || S.ws) return;
      }
      scheduleReconnect();
    };
    ws.onerror = () => {
      /* onclose follows and handles it */
    };
  }

  function scheduleReconnect() {
    if (!S.conversationId || S.retryTimer || S.ws) return;
    const delay = S.retryDelay * (1 + Math.random() * 0.3); // jitter spreads a thundering herd
    S.retryDelay = Math.min(S.retryDelay * 2, BACKOFF_MAX);
    S.retryTimer = setTimeout(connect, delay);
  }

  /** Abandon the socket now (e.g. the browser went offline and it won't close by itself). */
  function dropSocket() {
    const ws = S.ws;
    if (!ws) return;
    S.ws = null;
    S.connected = false;
    S.ready = false;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    flushDeferred();
    try {
      ws.close();
    } catch (_) {
      /* already closed */
    }
  }

  function reconnectNow() {
    if (!S.conversationId || S.ws) return;
    S.retryDelay = BACKOFF_MIN;
    connect();
  }

  function handleFrame(frame) {
    switch (frame.type) {
      case "typing":
        if (frame.who === "agent") showTyping(frame.name || S.agentName || "Support agent");
        else showTyping(config.botName);
        break;
      case "ack":
        receive(frame.message, true);
        break;
      case "reply":
      case "message":
        receive(frame.message, true);
        if (frame.message && frame.message.role !== "customer") hideTyping();
        if (frame.type === "reply") flushDeferred();
        break;
      case "status":
        applyStatus(frame.status, frame.agent || null, true);
        writeStore();
        break;
      case "error":
        if (frame.client_message_id && S.outbox.some((i) => i.id === frame.client_message_id)) {
          markFailed(frame.client_message_id, frame.detail);
        } else if (frame.detail) {
          showError(String(frame.detail).slice(0, 200));
        }
        hideTyping();
        flushDeferred();
        break;
      default:
        break; // newer servers may add frames; ignore what we don't know
    }
  }

  function applyStatus(status, agent, announce) {
    const prev = S.status;
    const prevAgent = S.agentName;
    if (agent) S.agentName = agent;
    S.status = status;
    renderHeader();
    if (!announce) return;
    let say = null;
    if (status === "with_agent" && (prev !== "with_agent" || (agent && agent !== prevAgent))) {
      say = () => {
        hideTyping();
        systemLine(`${agent || S.agentName || "A person"} joined the conversation`);
      };
    } else if (prev === status) {
      return;
    } else if (status === "waiting") {
      say = () => systemLine("Connecting you to a person…");
    } else if (status === "bot" && prev === "with_agent") {
      say = () => {
        systemLine(`${prevAgent || "The agent"} handed you back to the assistant`);
        offerSurvey(false);
      };
    } else if (status === "closed") {
      say = () => {
        hideTyping();
        systemLine("This conversation has ended");
        offerSurvey(false);
      };
    }
    if (!say) return;
    // The status change caused by a message comes before the bot's reply to it ("I'm passing
    // you to our team"); the line reads better after that reply, so hold it until then.
    if (S.replyDue) {
      S.deferred.push(say);
      clearTimeout(S.deferTimer);
      S.deferTimer = setTimeout(flushDeferred, 4000);
    } else say();
  }

  function flushDeferred() {
    clearTimeout(S.deferTimer);
    S.replyDue = false;
    S.deferred.splice(0).forEach((say) => say());
  }

  // ------------------------------------------------------------------ sending

  function submitInput() {
    const text = ui.input.value.trim();
    if (!text) return;
    ui.input.value = "";
    autoGrow();
    ui.send.classList.add("cx-empty");
    sendText(text.slice(0, MAX_TEXT));
  }

  function sendText(text) {
    const item = { id: uuid(), text, at: Date.now(), failed: false };
    S.outbox.push(item);
    writeStore();
    renderPending(item);
    deliver(item);
  }

  function deliver(item) {
    if (!S.conversationId) ensureConversation(); // sends the outbox once connected
    else if (S.ready) sendItem(item);
    else if (!S.ws) reconnectNow(); // queued; goes out after the (re)connect
  }

  // Tell the person who has (or is about to take) the conversation that the customer is
  // writing; the bot needs no warning. At most every few seconds, best effort only.
  let typingSentAt = 0;
  function noteTyping() {
    if (!S.ready || !S.ws || (S.status !== "waiting" && S.status !== "with_agent")) return;
    const now = Date.now();
    if (now - typingSentAt < TYPING_EVERY_MS) return;
    typingSentAt = now;
    try {
      S.ws.send(JSON.stringify({ type: "typing" }));
    } catch (e) {
      /* the socket is closing; the next keystroke after reconnecting will tell them */
    }
  }

  function sendItem(item) {
    if (!S.ready || !S.ws || item.failed || item.sentOn === S.socketGen) return;
    try {
      S.ws.send(JSON.stringify({ type: "message", text: item.text, client_message_id: item.id }));
    } catch (_) {
      return; // the socket is going away; the reconnect resends it
    }
    item.sentOn = S.socketGen;
    // Only the bot answers straight away; a person's typing comes as its own frame.
    if (S.status !== "with_agent" && S.status !== "waiting") {
      S.replyDue = true;
      showTyping(config.botName);
    }
  }

  function flushOutbox() {
    for (const item of S.outbox.slice()) sendItem(item);
  }

  function dropFromOutbox(cid) {
    S.acked.add(cid); // stored: no other tab's copy may bring it back
    if (S.acked.size > 500) S.acked.delete(S.acked.values().next().value);
    S.outbox = S.outbox.filter((i) => i.id !== cid);
    writeStore(); // also when only the stored copy (merged from another tab) held it
  }

  function markFailed(cid, detail) {
    const item = S.outbox.find((i) => i.id === cid);
    if (!item) return;
    item.failed = true;
    item.sentOn = null;
    writeStore();
    const row = S.pending.get(cid);
    if (row) setCustomerState(row, "failed", item);
    // The server's reason, for the curious (hover); the bubble itself just says "not sent".
    if (row && detail) row.querySelector(".cx-bubble").title = String(detail).slice(0, 200);
  }

  function retryItem(cid) {
    const item = S.outbox.find((i) => i.id === cid);
    if (!item) return;
    item.failed = false; // the server did not store it, so the same id is still free to use
    writeStore();
    const row = S.pending.get(cid);
    if (row) setCustomerState(row, "pending", item);
    clearError();
    deliver(item);
  }

  // ------------------------------------------------------------------ survey

  function endChat() {
    if (!S.conversationId) {
      closePanel(true);
      return;
    }
    // Closed on the server too, so nobody in the support team waits for a customer who left.
    // Best effort: the survey is offered either way, and writing again reopens the chat.
    if (S.status !== "closed") {
      request("POST", `/api/conversations/${encodeURIComponent(S.conversationId)}/end`, undefined, S.token)
        .catch(() => {});
    }
    offerSurvey(true);
  }

  function offerSurvey(explicit) {
    const id = S.conversationId;
    if (!id) return;
    if (S.surveyed.includes(id)) {
      if (explicit) showThanks(); // nothing more to ask; say so rather than do nothing
      return;
    }
    const existing = ui.cards.querySelector("form");
    if (existing) {
      existing.scrollIntoView({ block: "nearest" });
      if (explicit) existing.querySelector("input").focus();
      return;
    }
    const form = surveyForm(id);
    ui.cards.replaceChildren(form);
    scrollToBottom(true);
    if (explicit && S.open) setTimeout(() => form.querySelector("h3").focus(), 50);
  }

  function scale(name, legend, from, to, low, high) {
    const count = to - from + 1;
    const options = [];
    for (let n = from; n <= to; n++) {
      const extra = n === from ? ` (${low})` : n === to ? ` (${high})` : "";
      options.push(
        h(
          "label",
          { class: "cx-opt" },
          h("input", { type: "radio", name, value: n }),
          h("span", {}, String(n), extra ? h("span", { class: "cx-sr", text: extra }) : null)
        )
      );
    }
    return h(
      "fieldset",
      { class: "cx-q" },
      h("legend", { text: legend }),
      h("div", { class: `cx-scale cx-scale-${count}` }, options),
      h("div", { class: "cx-ends", "aria-hidden": "true" }, h("span", { text: low }), h("span", { text: high }))
    );
  }

  function surveyForm(conversationId) {
    const problem = h("p", { class: "cx-form-error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", class: "cx-primary", "data-testid": "cx-survey-submit", text: "Submit" });
    const form = h(
      "form",
      { class: "cx-card cx-survey", "data-testid": "cx-survey", novalidate: true, "aria-labelledby": "cx-survey-title" },
      h("h3", { id: "cx-survey-title", tabindex: "-1", text: "How did we do?" }),
      h("p", { text: "Three quick questions — answer as many as you like." }),
      scale("csat", "How satisfied are you with the help you got?", 1, 5, "Very unsatisfied", "Very satisfied"),
      scale("nps", "How likely are you to recommend us to a friend?", 0, 10, "Not at all likely", "Extremely likely"),
      scale("ces", "How easy was it to get your issue handled?", 1, 7, "Very difficult", "Very easy"),
      h("label", { class: "cx-comment-label", for: "cx-comment", text: "Anything else you'd like to tell us? (optional)" }),
      h("textarea", { id: "cx-comment", class: "cx-comment", name: "comment", rows: 2, maxlength: 2000 }),
      problem,
      submit
    );
    form.addEventListener("change", () => (problem.hidden = true));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const answers = {};
      for (const name of ["csat", "nps", "ces"]) {
        const checked = form.querySelector(`input[name="${name}"]:checked`);
        if (checked) answers[name] = Number(checked.value);
      }
      const comment = form.querySelector("textarea").value.trim();
      if (comment) answers.comment = comment;
      if (!Object.keys(answers).length) {
        problem.textContent = "Please answer at least one question before submitting.";
        problem.hidden = false;
        return;
      }
      problem.hidden = true;
      submit.disabled = true;
      submit.textContent = "Sending…";
      let res = null;
      try {
        res = await request("POST", `/api/conversations/${encodeURIComponent(conversationId)}/survey`, answers, S.token);
      } catch (_) {
        res = null;
      }
      submit.disabled = false;
      submit.textContent = "Submit";
      if (res && (res.ok || res.status === 409)) {
        // 409: it was answered already (another tab, an earlier visit); thank them all the same.
        if (!S.surveyed.includes(conversationId)) S.surveyed.push(conversationId);
        writeStore();
        showThanks();
      } else {
        problem.textContent = res
          ? "Sorry, we couldn't save your answers. Please try again."
          : "Can't reach us right now. Please try again in a moment.";
        problem.hidden = false;
      }
    });
    return form;
  }

  function showThanks() {
    const card = h(
      "div",
      { class: "cx-card cx-thanks", "data-testid": "cx-survey-thanks", role: "status", tabindex: "-1" },
      h("div", { class: "cx-check", "aria-hidden": "true", text: "✓" }),
      h("p", { text: "Thank you for your feedback!" })
    );
    ui.cards.replaceChildren(card);
    scrollToBottom(true);
  }

  // ------------------------------------------------------------------ open / close

  function openPanel() {
    if (S.open) return;
    S.open = true;
    ui.panel.hidden = false;
    ui.wrap.classList.add("cx-open");
    ui.launcher.setAttribute("aria-expanded", "true");
    ui.launcher.setAttribute("aria-label", "Close chat");
    S.unread = 0;
    renderBadge();
    ensureConversation();
    scrollToBottom(true);
    // On phones a focused input pops the keyboard over the transcript; focus the dialog instead.
    const phone = window.matchMedia && matchMedia("(max-width: 480px)").matches;
    (phone ? ui.panel : ui.input).focus({ preventScroll: true });
  }

  function closePanel(returnFocus) {
    if (!S.open) return;
    S.open = false;
    ui.panel.hidden = true;
    ui.wrap.classList.remove("cx-open");
    ui.launcher.setAttribute("aria-expanded", "false");
    ui.launcher.setAttribute("aria-label", "Open chat");
    if (returnFocus) ui.launcher.focus();
  }

  // ------------------------------------------------------------------ start

  function init() {
    if (document.getElementById("cxagent-widget")) return; // a copy from another URL got here first
    ui = build();
    renderGreeting();
    renderHeader();
    // Messages typed before a reload and never acknowledged: show them, send them on connect.
    for (const item of S.outbox) renderPending(item);

    if (S.conversationId) {
      // Show the stored conversation at once, then go live (connect catches up again).
      catchUp().then(() => {
        if (S.conversationId) connect();
        else if (S.outbox.length) ensureConversation();
      });
    } else if (S.outbox.some((i) => !i.failed)) {
      ensureConversation();
    }

    window.addEventListener("offline", () => {
      // A socket on a dead network may not notice for minutes: drop it and say so now.
      if (!S.ws) return;
      dropSocket();
      S.showConn = true;
      renderConnection();
      scheduleReconnect();
    });
    window.addEventListener("online", () => {
      clearTimeout(S.retryTimer);
      S.retryTimer = null;
      if (S.conversationId) reconnectNow();
      else if (S.outbox.some((i) => !i.failed)) ensureConversation();
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && S.conversationId && !S.ws) reconnectNow();
    });

    if (config.open) openPanel();
    readyQueue.splice(0).forEach((fn) => fn());
  }

  if (document.body) init();
  else document.addEventListener("DOMContentLoaded", init, { once: true });
})();
