/* The widget's copy in localStorage, shared by every tab of the site: the conversation, its
   token and the outbox survive a reload. Storage may be blocked (privacy mode, sandboxed
   iframes): then the widget runs from memory for this page view. */

import { isValidItem, mergeOutboxes, storedItem } from "./outbox.js";

const SURVEYED_KEPT = 50;

/** The record to store for `state`, given the `current` record another tab may have written. */
export function recordFor(state, current) {
  const sameConversation = current.conversation_id === state.conversationId;
  const outbox = mergeOutboxes(state.outbox, sameConversation ? current.outbox : [], state.acked);
  return {
    conversation_id: state.conversationId,
    customer_token: state.token,
    outbox: outbox.map(storedItem),
    surveyed: state.surveyed.slice(-SURVEYED_KEPT),
    agent: state.agentName,
  };
}

/** The stored record, cleaned: what a new page view starts from. */
export function cleanRecord(raw) {
  const record = raw && typeof raw === "object" ? raw : {};
  return {
    conversation_id: record.conversation_id || null,
    customer_token: record.customer_token || null,
    outbox: Array.isArray(record.outbox) ? record.outbox.filter(isValidItem) : [],
    surveyed: Array.isArray(record.surveyed) ? record.surveyed : [],
    agent: record.agent || null,
  };
}

/** openStore(key) → {read(), write(state)}; `storage` is injectable for tests. */
export function openStore(key, storage = () => globalThis.localStorage) {
  function readRaw() {
    try {
      return JSON.parse(storage().getItem(key) || "{}") || {};
    } catch {
      return {};
    }
  }
  return {
    read: () => cleanRecord(readRaw()),
    write(state) {
      try {
        storage().setItem(key, JSON.stringify(recordFor(state, readRaw())));
      } catch {
        /* quota or blocked storage: the chat still works for this page view */
      }
    },
  };
}
