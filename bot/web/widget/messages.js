/* The conversation log: one row per message, each server message id rendered once, the
   customer's own messages shown at once and turned into the stored message when acknowledged. */

import { h } from "../shared/dom.js";
import { initial, richText, timeLabel } from "./text.js";

/**
 * Where a server message with `id` goes among the log's rows (oldest first, each {id, local}:
 * id the server's or null, local for a customer bubble not acknowledged yet): after older
 * messages, before newer ones and before local bubbles. A row without id that is not local
 * (a system line, the greeting) stops the search: nothing moves above it.
 */
export function insertionIndex(rows, id) {
  let index = rows.length;
  for (let i = rows.length - 1; i >= 0; i--) {
    const row = rows[i];
    if (row.local || (row.id !== null && Number(row.id) > Number(id))) index = i;
    else break;
  }
  return index;
}

function messageRow(role, text, name, createdAt) {
  // Screen readers hear who said it (data-speaker); sighted users see it from the layout.
  const bubble = h("div", { class: "cx-bubble", title: timeLabel(createdAt), "data-speaker": name }, richText(text));
  return h(
    "div",
    { class: `cx-row cx-${role}`, "data-testid": "cx-message", "data-role": role },
    role === "customer" ? null : h("div", { class: "cx-avatar", "aria-hidden": "true", "data-initial": initial(name) }),
    h("div", { class: "cx-stack" }, role === "agent" ? h("div", { class: "cx-author", text: name }) : null, bubble),
  );
}

/** createMessageLog(panel, {onRetry(clientId)}): panel is createPanel's result. */
export function createMessageLog(panel, { onRetry }) {
  const log = panel.log;
  const shown = new Map(); // server message id → row
  const pending = new Map(); // client_message_id → row of a bubble not acknowledged yet

  function setCustomerState(row, state, clientId) {
    row.setAttribute("data-state", state);
    row.querySelector(".cx-meta")?.remove();
    const stack = row.querySelector(".cx-stack");
    if (state === "pending") {
      stack.append(h("div", { class: "cx-meta", text: "Sending…" }));
    } else if (state === "failed") {
      const retry = h("button", {
        type: "button",
        class: "cx-retry",
        "data-testid": "cx-retry",
        text: "Retry",
        onclick: () => onRetry(clientId),
      });
      stack.append(h("div", { class: "cx-meta" }, h("span", { text: "Not sent —" }), retry));
    }
  }

  function placeServerRow(row, id) {
    const rows = Array.from(log.children, (el) => {
      const elId = el.getAttribute("data-id");
      return { id: elId, local: el.getAttribute("data-role") === "customer" && !elId };
    });
    log.insertBefore(row, log.children[insertionIndex(rows, id)] || null);
  }

  return {
    /** The greeting of the embedding tag: local text, not a stored message. */
    showGreeting(text, botName) {
      const row = messageRow("bot", text, botName);
      row.setAttribute("data-testid", "cx-greeting");
      row.removeAttribute("data-role");
      log.append(row);
    },

    /** A message of the outbox, shown before the server has it. */
    showPending(item) {
      const row = messageRow("customer", item.text, "You", new Date(item.at || Date.now()).toISOString());
      pending.set(item.id, row);
      setCustomerState(row, item.failed ? "failed" : "pending", item.id);
      log.append(row);
      panel.scrollToBottom(true);
    },

    /** A server message (ack, reply, push or transcript) by `name`; false if already shown. */
    showServerMessage(message, name) {
      const id = String(message.id);
      const clientId = message.role === "customer" ? message.client_message_id : null;
      const pendingRow = clientId ? pending.get(clientId) : null;
      if (clientId) pending.delete(clientId);
      if (shown.has(id)) {
        if (pendingRow && pendingRow !== shown.get(id)) pendingRow.remove();
        return false;
      }
      let row = pendingRow;
      if (row) {
        // The local bubble becomes the stored message: same place, now with the server's id
        // (and the stored text, which may be redacted).
        const bubble = row.querySelector(".cx-bubble");
        bubble.setAttribute("data-speaker", name);
        bubble.replaceChildren(richText(message.text));
        bubble.title = timeLabel(message.created_at);
      } else {
        row = messageRow(message.role, message.text, name, message.created_at);
        placeServerRow(row, id);
      }
      row.setAttribute("data-id", id);
      if (message.role === "customer") setCustomerState(row, "sent");
      shown.set(id, row);
      return true;
    },

    markFailed(clientId, detail) {
      const row = pending.get(clientId);
      if (!row) return;
      setCustomerState(row, "failed", clientId);
      // The server's reason, for the curious (hover); the bubble itself just says "not sent".
      if (detail) row.querySelector(".cx-bubble").title = detail.slice(0, 200);
    },

    markPending(clientId) {
      const row = pending.get(clientId);
      if (row) setCustomerState(row, "pending", clientId);
    },

    systemLine(text) {
      log.append(h("div", { class: "cx-system", "data-testid": "cx-message", "data-role": "system", text }));
      panel.scrollToBottom(false);
    },

    /** The conversation is gone: its messages and lines go; unsent bubbles stay. */
    clearConversation() {
      for (const row of shown.values()) row.remove();
      shown.clear();
      log.querySelectorAll(".cx-system").forEach((el) => el.remove());
    },
  };
}
