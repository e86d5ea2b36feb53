/* The widget's frame: launcher, panel, header, connection line, error line, composer and the
   typing indicator, in a Shadow DOM. It renders what it is given and reports the customer's
   actions through handlers; it decides nothing. */

import { h, svg } from "../shared/dom.js";
import { CSS_TEXT } from "./styles.js";
import { accentProperties } from "./theme.js";
import { initial } from "./text.js";
import { Status } from "./state.js";

export const MAX_TEXT = 2000;
const TYPING_TIMEOUT_MS = 8000;
const ERROR_SHOWN_MS = 12000;

const ICONS = {
  chat: [
    "M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6c-.6.5-1.3.1-1.3-.6V16.0A2.5 2.5 0 0 1 4 13.5z",
  ],
  down: ["M6.7 9.3a1 1 0 0 1 1.4 0L12 13.2l3.9-3.9a1 1 0 1 1 1.4 1.4l-4.6 4.6a1 1 0 0 1-1.4 0l-4.6-4.6a1 1 0 0 1 0-1.4z"],
  send: ["M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z"],
};

function icon(paths, size, className) {
  return svg(
    "svg",
    { viewBox: "0 0 24 24", width: size, height: size, "aria-hidden": "true", focusable: "false", class: className },
    paths.map((d) => svg("path", { d })),
  );
}

/**
 * createPanel(config, handlers) builds the widget into document.body. handlers: onToggle(),
 * onMinimise(), onEnd(), onSubmit(text), onType() (the customer is writing).
 */
export function createPanel(config, handlers) {
  const host = h("div", { id: "cxagent-widget", "data-cxagent": "" });
  const root = host.attachShadow({ mode: "open" });

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
    icon(ICONS.send, 20),
  );
  const composer = h(
    "form",
    { class: "cx-composer", novalidate: true },
    h("label", { for: "cx-input", class: "cx-sr", text: "Your message" }),
    input,
    send,
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
    typingText,
  );
  const cards = h("div", { class: "cx-cards" });
  const body = h("div", { class: "cx-body" }, log, typing, cards);

  const subtitle = h("p", { class: "cx-subtitle" });
  const headAvatar = h("div", { class: "cx-avatar-lg", "aria-hidden": "true", "data-initial": initial(config.botName) });
  const header = h(
    "div",
    { class: "cx-header" },
    headAvatar,
    h("div", { class: "cx-headtext" }, h("h2", { class: "cx-title", id: "cx-title", text: config.title }), subtitle),
    h("button", { type: "button", class: "cx-hbtn", "data-testid": "cx-end", text: "End chat", onclick: handlers.onEnd }),
    h(
      "button",
      {
        type: "button",
        class: "cx-hbtn cx-icon",
        "aria-label": "Minimize chat",
        title: "Minimize",
        onclick: handlers.onMinimise,
      },
      icon(ICONS.down, 22),
    ),
  );
  const connection = h("div", { class: "cx-conn", "data-testid": "cx-connection", role: "status", hidden: true });
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
    h("div", { class: "cx-footer", text: "Powered by cxagent" }),
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
      onclick: handlers.onToggle,
    },
    icon(ICONS.chat, 28, "cx-i-chat"),
    icon(ICONS.down, 30, "cx-i-down"),
    badge,
  );

  const wrap = h("div", { class: `cx-root cx-${config.position}` }, panel, launcher);
  for (const [name, value] of Object.entries(accentProperties(config.color))) wrap.style.setProperty(name, value);
  root.append(h("style", { text: CSS_TEXT }), wrap);
  document.body.append(host);

  wrap.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !panel.hidden) {
      e.stopPropagation();
      handlers.onMinimise();
    }
  });
  const submit = () => {
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    autoGrow();
    send.classList.add("cx-empty");
    handlers.onSubmit(text.slice(0, MAX_TEXT));
  };
  composer.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (e) => {
    // Enter sends; Shift+Enter is a newline; never interrupt an IME composition.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", () => {
    autoGrow();
    send.classList.toggle("cx-empty", !input.value.trim());
    if (input.value.trim()) handlers.onType();
  });

  function autoGrow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  }

  // Follow new messages only while the reader is at the bottom; someone scrolled up to
  // reread something shouldn't be yanked down. (Measured on scroll, i.e. before content grows.)
  let stuckToBottom = true;
  body.addEventListener(
    "scroll",
    () => {
      stuckToBottom = body.scrollHeight - body.scrollTop - body.clientHeight < 60;
    },
    { passive: true },
  );
  function scrollToBottom(force) {
    if (force || stuckToBottom) {
      body.scrollTop = body.scrollHeight;
      stuckToBottom = true;
    }
  }

  let typingTimer = null;
  function hideTyping() {
    clearTimeout(typingTimer);
    typing.hidden = true;
  }

  let errorTimer = null;
  function clearError() {
    error.hidden = true;
    error.textContent = "";
  }

  return {
    log,
    cards,
    scrollToBottom,
    hideTyping,
    clearError,

    showTyping(name) {
      typingText.textContent = `${name} is typing…`;
      typingAvatar.setAttribute("data-initial", initial(name));
      typing.classList.toggle("cx-agent", name !== config.botName);
      typing.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
      scrollToBottom(false);
    },

    showError(text) {
      error.textContent = text;
      error.hidden = false;
      clearTimeout(errorTimer);
      errorTimer = setTimeout(clearError, ERROR_SHOWN_MS);
    },

    renderHeader(state) {
      const agent = state.agentName || "a person";
      const lines = {
        [Status.WAITING]: "Connecting you to a person…",
        [Status.WITH_AGENT]: `You're chatting with ${agent}`,
        [Status.CLOSED]: "This conversation has ended",
      };
      subtitle.textContent = lines[state.status] || "We reply in seconds";
      const face = state.status === Status.WITH_AGENT ? state.agentName : config.botName;
      headAvatar.setAttribute("data-initial", initial(face));
    },

    renderBadge(unread) {
      badge.hidden = unread === 0;
      badge.textContent = unread > 9 ? "9+" : String(unread);
    },

    renderConnection(state) {
      const show = Boolean(state.conversationId) && !state.connected && state.showConnection;
      connection.hidden = !show;
      wrap.classList.toggle("cx-offline", show); // greys the "online" dot
      connection.textContent = state.everConnected ? "Reconnecting…" : "Connecting…";
    },

    renderOpen(open, { returnFocus = false } = {}) {
      panel.hidden = !open;
      wrap.classList.toggle("cx-open", open);
      launcher.setAttribute("aria-expanded", String(open));
      launcher.setAttribute("aria-label", open ? "Close chat" : "Open chat");
      if (open) {
        scrollToBottom(true);
        // On phones a focused input pops the keyboard over the transcript; focus the dialog.
        const phone = window.matchMedia && matchMedia("(max-width: 480px)").matches;
        (phone ? panel : input).focus({ preventScroll: true });
      } else if (returnFocus) {
        launcher.focus();
      }
    },
  };
}
